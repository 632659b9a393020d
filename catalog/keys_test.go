package catalog

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestKeyListIsComplete holds the key list of the package documentation to
// the keys the catalog writes: each method of keys names one key, by the
// first string literal after the prefix, and the list names each once.
func TestKeyListIsComplete(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var written, listed []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			listed = append(listed, documentedKeys(f.Doc.Text())...)
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && receiverIs(fn, "keys") {
				written = append(written, firstString(t, fn))
			}
		}
	}
	slices.Sort(written)
	slices.Sort(listed)
	if len(written) < 16 {
		t.Fatalf("found %d key methods, want at least 16: is the parsing still right?", len(written))
	}
	if !slices.Equal(written, listed) {
		t.Errorf("the package documentation lists the keys\n%q\nbut the keys methods name\n%q", listed, written)
	}
}

// documentedKeys returns the keys that doc lists, each cut before its first
// "{" and without its prefix: "wxqr:code:{id}" is "code:".
func documentedKeys(doc string) []string {
	var found []string
	for line := range strings.SplitSeq(doc, "\n") {
		key, ok := strings.CutPrefix(strings.TrimSpace(line), DefaultPrefix)
		if !ok {
			continue
		}
		key, _, _ = strings.Cut(key, " ")
		key, _, _ = strings.Cut(key, "{")
		found = append(found, key)
	}
	return found
}

func receiverIs(fn *ast.FuncDecl, typ string) bool {
	if fn.Recv == nil || len(fn.Recv.List) != 1 {
		return false
	}
	id, ok := fn.Recv.List[0].Type.(*ast.Ident)
	return ok && id.Name == typ
}

// firstString returns the first string literal in fn's body.
func firstString(t *testing.T, fn *ast.FuncDecl) string {
	t.Helper()
	var lit *ast.BasicLit
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING && lit == nil {
			lit = b
		}
		return lit == nil
	})
	if lit == nil {
		t.Fatalf("keys.%s names no key", fn.Name.Name)
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
