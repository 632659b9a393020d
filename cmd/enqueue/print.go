package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/wxqr/wxqr/internal/config"
	"github.com/wxqr/wxqr/printsheet"
)

const printUsage = `Usage: enqueue print --campaign NAME [--format pdf|svg|png] [-o FILE] [sheet flags]

Makes a campaign's codes ready for a printer: PDF label sheets (each code
with its name under it), or a zip of one SVG or high-resolution PNG per
code, named by the codes' names. Official Account codes are drawn from
their url, as vectors; Mini Program codes are their stored images.

Temporary codes stop working at their expiry, and a printed one cannot be
regenerated: print warns when the campaign has some, and so do the sheets.
Codes whose image is missing from storage are left out and listed; the
output is still written, and print exits with status 1.

  --campaign NAME  the campaign to print (required)
  --format F       pdf (the default), svg or png
  -o FILE          write to FILE instead of stdout
  --size LEN       the side of each code, its quiet zone included (pdf, svg);
                   default 50mm
  --paper P        a4 (the default) or letter (pdf)
  --grid CxR       columns x rows of codes on each page (pdf); default 3x4
  --margin LEN     the blank border of each page (pdf); default 10mm
  --gutter LEN     the space between two codes (pdf); default 5mm
  --font FILE      a TrueType font (.ttf) for the text (pdf); default
                   WXQR_PRINT_FONT, else Helvetica, which prints Western
                   European text only: other characters print as "?"

Lengths take mm, cm, in or pt; a bare number is millimetres.

Examples:
  enqueue print --campaign spring -o spring.pdf
  enqueue print --campaign spring --paper letter --grid 2x3 --size 2.5in -o spring.pdf
  enqueue print --campaign spring --font /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf -o spring.pdf
  enqueue print --campaign spring --format svg -o spring-svg.zip
`

// printJob is what print was asked to make.
type printJob struct {
	campaign, format, out, font string
	sheet                       printsheet.SheetText
}

// sheetFlags are the flags that only some formats use, with those formats.
var sheetFlags = map[string][]string{
	"paper": {"pdf"}, "grid": {"pdf"}, "margin": {"pdf"}, "gutter": {"pdf"}, "font": {"pdf"},
	"size": {"pdf", "svg"},
}

func runPrint(ctx context.Context, c *cli, args []string) error {
	job, err := parsePrint(c, args)
	if err != nil {
		return err
	}
	sheet, err := job.sheet.Sheet()
	if err != nil {
		return &inputError{err}
	}
	if job.out == "" && isTerminal(c.stdout) {
		return inputErrorf("print writes a PDF or a zip: give -o FILE, or redirect stdout")
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if job.format == "pdf" {
		if sheet.Font, err = loadFont(job.font, cfg); err != nil {
			return err
		}
	}
	codes, err := loadCodes(ctx, c, job.campaign)
	if err != nil {
		return err
	}
	if warning := codes.Warning(); warning != "" {
		fmt.Fprintf(c.stderr, "warning: %s\n", warning)
	}
	printed, err := writeOutput(job.out, c.stdout, func(w io.Writer) (printsheet.Printed, error) {
		if job.format == "pdf" {
			return codes.WritePDF(ctx, w, sheet)
		}
		return codes.WriteZip(ctx, w, printsheet.Format(job.format), sheet.CodeSize)
	})
	if err != nil {
		return err
	}
	return report(c, job, printed)
}

// parsePrint reads print's flags, and refuses the ones its format does not
// use.
func parsePrint(c *cli, args []string) (*printJob, error) {
	job := &printJob{}
	fs := flag.NewFlagSet("print", flag.ContinueOnError)
	fs.StringVar(&job.campaign, "campaign", "", "")
	fs.StringVar(&job.format, "format", "pdf", "")
	fs.StringVar(&job.out, "o", "", "")
	fs.StringVar(&job.font, "font", "", "")
	fs.StringVar(&job.sheet.Paper, "paper", "", "")
	fs.StringVar(&job.sheet.Grid, "grid", "", "")
	fs.StringVar(&job.sheet.Size, "size", "", "")
	fs.StringVar(&job.sheet.Margin, "margin", "", "")
	fs.StringVar(&job.sheet.Gutter, "gutter", "", "")
	if err := c.parse(fs, printUsage, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, inputErrorf("print takes no arguments (run with -h for usage)")
	case job.campaign == "":
		return nil, inputErrorf("print needs --campaign NAME")
	case job.format != "pdf" && job.format != string(printsheet.SVG) && job.format != string(printsheet.PNG):
		return nil, inputErrorf("--format %q: want pdf, svg or png", job.format)
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if formats, ok := sheetFlags[f.Name]; ok && !slices.Contains(formats, job.format) && err == nil {
			err = inputErrorf("--%s is for --format %s only", f.Name, strings.Join(formats, " or "))
		}
	})
	return job, err
}

// loadFont loads the font named by --font, else WXQR_PRINT_FONT; nil when
// neither is set.
func loadFont(flagValue string, cfg *config.Config) (*printsheet.Font, error) {
	path, from := flagValue, "--font"
	if path == "" {
		path, from = cfg.PrintFont, config.EnvPrintFont
	}
	if path == "" {
		return nil, nil
	}
	font, err := printsheet.LoadFont(path)
	if err != nil {
		return nil, inputErrorf("%s: %v", from, err)
	}
	return font, nil
}

// loadCodes reads the campaign's codes, with the store of their images.
func loadCodes(ctx context.Context, c *cli, campaign string) (*printsheet.Codes, error) {
	cat, _, _, err := c.services(ctx)
	if err != nil {
		return nil, err
	}
	store, err := c.cfg.Storage.Open(ctx)
	if err != nil {
		return nil, err
	}
	codes, err := printsheet.Load(ctx, cat, store, campaign)
	if errors.Is(err, printsheet.ErrNoCodes) {
		return nil, inputErrorf("campaign %q has no codes to print (enqueue status lists the campaigns)", campaign)
	}
	return codes, err
}

// writeOutput runs write on the file at out, or on stdout when out is "".
// A file that could not be written whole is removed: a partial one would
// pass for a whole one.
func writeOutput(out string, stdout io.Writer, write func(io.Writer) (printsheet.Printed, error)) (printsheet.Printed, error) {
	if out == "" {
		return write(stdout)
	}
	f, err := os.Create(out)
	if err != nil {
		return printsheet.Printed{}, fmt.Errorf("print: %w", err)
	}
	printed, err := write(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("print: %w", cerr)
	}
	if err != nil {
		os.Remove(out)
	}
	return printed, err
}

// report says what was printed, and fails when codes were left out.
func report(c *cli, job *printJob, printed printsheet.Printed) error {
	where := "stdout"
	if job.out != "" {
		where = job.out
	}
	what := fmt.Sprintf("%d codes", printed.Codes)
	if printed.Pages > 0 {
		what += fmt.Sprintf(" on %d pages", printed.Pages)
	}
	fmt.Fprintf(c.stderr, "printed %s of campaign %s to %s\n", what, job.campaign, where)
	if len(printed.Missing) == 0 {
		return nil
	}
	for _, m := range printed.Missing {
		fmt.Fprintln(c.stderr, "left out:", m)
	}
	return fmt.Errorf("print: %d codes left out, their images missing or broken (listed above; enqueue verify queues repairs)", len(printed.Missing))
}

// isTerminal reports whether w is a terminal, where a PDF or a zip would
// only garble the screen.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
