package monitor

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wxqr/wxqr/printsheet"
)

// DefaultMaxSheetCodes is the default of Config.MaxSheetCodes: 167 pages of
// 3 × 4 codes.
const DefaultMaxSheetCodes = 2000

// printSheet serves the campaign's PDF label sheets, laid out by the query
// (paper, grid, size, margin, gutter: as enqueue print's flags take them).
// The PDF is made whole before anything is sent, so a failure is a clean
// 500.
func (s *Server) printSheet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sheet, err := printsheet.SheetText{
		Paper: q.Get("paper"), Grid: q.Get("grid"), Size: q.Get("size"),
		Margin: q.Get("margin"), Gutter: q.Get("gutter"),
	}.Sheet()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sheet.Font = s.cfg.PrintFont
	name, out := s.startDownload(w, r, "application/pdf", ".pdf")
	if out == nil {
		return
	}
	codes, ok := s.printable(w, r, name)
	if !ok {
		return
	}
	if n := len(codes.Records); n > s.cfg.MaxSheetCodes {
		w.Header().Del("Content-Disposition")
		http.Error(w, fmt.Sprintf("the campaign has %s codes, more than the %s a PDF made here may hold: use enqueue print, or the codes as a zip",
			formatCount(n), formatCount(s.cfg.MaxSheetCodes)), http.StatusUnprocessableEntity)
		return
	}
	var buf bytes.Buffer
	printed, err := codes.WritePDF(r.Context(), &buf, sheet)
	if err != nil {
		s.streamFailed(w, r, false, "print sheets of "+name, err)
		return
	}
	s.logMissing(name, printed)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = out.Write(buf.Bytes())
}

// codesZip streams one SVG or PNG file per code of the campaign
// (?format=svg|png; svg by default; size sets an SVG's width).
func (s *Server) codesZip(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, err := printsheet.ParseFormat(cmp.Or(q.Get("format"), string(printsheet.SVG)))
	var size float64
	if err == nil && q.Get("size") != "" {
		size, err = printsheet.ParseLength(q.Get("size"))
		if err == nil && size < printsheet.MinCodeSize {
			err = fmt.Errorf("size %q: want at least %gmm", q.Get("size"), printsheet.MinCodeSize)
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name, out := s.startDownload(w, r, "application/zip", "-"+string(format)+".zip")
	if out == nil {
		return
	}
	codes, ok := s.printable(w, r, name)
	if !ok {
		return
	}
	printed, err := codes.WriteZip(r.Context(), out, format, size)
	if err != nil {
		s.streamFailed(w, r, out.sent, "zip codes of "+name, err)
		return
	}
	s.logMissing(name, printed)
}

// printable loads the campaign's codes for printing; when it cannot, it
// answers the request (404 for a campaign without codes yet) and ok is
// false.
func (s *Server) printable(w http.ResponseWriter, r *http.Request, name string) (codes *printsheet.Codes, ok bool) {
	codes, err := printsheet.Load(r.Context(), s.cfg.Catalog, s.cfg.Store, name)
	if errors.Is(err, printsheet.ErrNoCodes) {
		w.Header().Del("Content-Disposition")
		http.Error(w, "the campaign has no codes to print yet", http.StatusNotFound)
		return nil, false
	}
	if err != nil {
		s.streamFailed(w, r, false, "list codes of "+name, err)
		return nil, false
	}
	return codes, true
}

// logMissing warns of codes left out of a download, which lists them too.
func (s *Server) logMissing(campaign string, printed printsheet.Printed) {
	if len(printed.Missing) > 0 {
		s.log.Warn().Str("campaign", campaign).Int("missing", len(printed.Missing)).
			Msg("codes left out of a print download: their images are missing from storage or broken")
	}
}
