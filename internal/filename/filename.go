// Package filename names the files of codes that people receive (the
// images in a campaign's zip, a code's image saved from the browser): after
// the code's name when it has one, made safe for every file system and
// distinct within one archive, and after its storage key otherwise.
package filename

import (
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wxqr/wxqr"
)

// maxBaseBytes bounds a name before its counter and extension: with " (n)"
// and ".jpg" the file name stays under the 255 bytes that common file
// systems allow. 200 bytes hold a name of 66 Chinese characters.
const maxBaseBytes = 200

// Set gives out the file names of one archive or folder. The zero value is
// ready to use; a Set is not safe for concurrent use.
type Set struct {
	// taken holds every name given out, lower-cased: two names differing
	// only in case are one file on Windows and macOS.
	taken map[string]bool
	// next is the counter to try first for a base taken before, so that n
	// codes of one name cost n tries, not n².
	next map[string]int
}

// Code returns the file name of rec's image. A code with a name is named
// after it, made safe (see Safe), with its image's extension; a name given
// out before gets " (2)", " (3)", ... before the extension. A code without
// a name, or whose name leaves nothing once made safe, keeps its storage
// key ("wx1234/oa_perm/i-42.jpg"), which is unique already.
func (s *Set) Code(rec *wxqr.Record) string {
	key := rec.Spec.Key()
	base := Safe(rec.Name)
	if base == "" {
		return key
	}
	return s.add(base, path.Ext(key))
}

// Label returns the file name of a file named after label (a code's name,
// or what else people know it by), made safe (see Safe), with ext; a name
// given out before gets " (2)", " (3)", ... before the extension. It
// returns "" when nothing is left of label once made safe.
func (s *Set) Label(label, ext string) string {
	base := Safe(label)
	if base == "" {
		return ""
	}
	return s.add(base, ext)
}

// add returns base+ext, or base+" (n)"+ext with the lowest n from 2 that
// was not given out yet, and records it as given out.
func (s *Set) add(base, ext string) string {
	if s.taken == nil {
		s.taken, s.next = map[string]bool{}, map[string]int{}
	}
	name := base + ext
	folded := strings.ToLower(base)
	for n := max(s.next[folded], 2); s.taken[strings.ToLower(name)]; n++ {
		name = base + " (" + strconv.Itoa(n) + ")" + ext
		s.next[folded] = n + 1
	}
	s.taken[strings.ToLower(name)] = true
	return name
}

// Safe returns name as the base of a file name that every common file
// system and archive tool accepts as one plain file: path separators,
// control characters and what Windows forbids in names (<>:"|?*) become
// "_"; leading dots (a hidden file, "..") and surrounding spaces go, and
// so do trailing dots, which Windows drops; a name Windows reserves for a
// device (CON, NUL, COM1, ...) gets a "_"; the result is cut to 200 bytes
// at a character boundary. It returns "" when nothing is left.
func Safe(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || strings.ContainsRune(`/\<>:"|?*`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(name))
	if len(name) > maxBaseBytes {
		cut := maxBaseBytes
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	name = strings.TrimSpace(name)
	name = strings.TrimLeft(name, ".")
	name = strings.TrimRight(name, ". ")
	name = strings.TrimSpace(name)
	if windowsDevice(name) {
		name += "_"
	}
	return name
}

// windowsDevice reports whether Windows takes a file of base name for a
// device, whatever its extension: "CON", "nul", "COM1".
func windowsDevice(name string) bool {
	stem, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch stem = strings.TrimRight(stem, " "); stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		return stem[3] >= '1' && stem[3] <= '9'
	}
	return false
}
