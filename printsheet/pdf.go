package printsheet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strconv"

	"github.com/go-pdf/fpdf"

	"github.com/wxqr/wxqr"
)

// WritePDF writes the codes to w as label sheets laid out by sheet: a page
// per PerPage codes, each code with its label under it, every page headed
// with the campaign and its page number and, when codes expire, footed with
// Warning. A code whose image is missing or broken gets an empty frame and
// is listed in Printed.Missing. Nothing is written to w unless the whole
// PDF could be made.
func (c *Codes) WritePDF(ctx context.Context, w io.Writer, sheet Sheet) (Printed, error) {
	sheet = sheet.WithDefaults()
	if err := sheet.validate(); err != nil {
		return Printed{}, fmt.Errorf("printsheet: %w", err)
	}
	d := newDocument(c, sheet)
	var printed Printed
	for i, rec := range c.Records {
		if err := ctx.Err(); err != nil {
			return Printed{}, err
		}
		if i%sheet.PerPage() == 0 {
			d.pdf.AddPage()
		}
		x, y := sheet.CodeAt(i % sheet.PerPage())
		err := d.drawCode(ctx, rec, x, y)
		if errors.Is(err, errImageMissing) {
			printed.Missing = append(printed.Missing, err.Error())
			d.drawMissing(x, y)
		} else if err != nil {
			return Printed{}, err
		} else {
			printed.Codes++
		}
		d.pen.write(rec.Label(), labelPoints, x, y+sheet.CodeSize, sheet.CodeSize, labelHeight, "C")
	}
	printed.Pages = d.pdf.PageNo()
	if err := d.pdf.Output(w); err != nil {
		return Printed{}, fmt.Errorf("printsheet: write PDF: %w", err)
	}
	return printed, nil
}

// document is one PDF being made.
type document struct {
	codes *Codes
	sheet Sheet
	pdf   *fpdf.Fpdf
	pen   *pen
	pages int
	note  string // at the foot of every page; "" for none
}

func newDocument(c *Codes, sheet Sheet) *document {
	_, _, paper := sheet.Paper.size()
	pdf := fpdf.New("P", "mm", paper, "")
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetTitle(c.Campaign, true)
	pdf.SetCreator("wxqr", false)
	d := &document{codes: c, sheet: sheet, pdf: pdf, pen: newPen(pdf, sheet.Font)}
	d.pages = (len(c.Records) + sheet.PerPage() - 1) / sheet.PerPage()
	if warning := c.Warning(); warning != "" {
		d.note = "Note: " + warning + "."
	}
	pdf.SetHeaderFunc(d.header)
	pdf.SetFooterFunc(d.footer)
	return d
}

// header writes the campaign's name and the page number at the top.
func (d *document) header() {
	pageW, _ := d.sheet.PageSize()
	x, w := d.sheet.Margin, pageW-2*d.sheet.Margin
	page := "page " + strconv.Itoa(d.pdf.PageNo()) + " of " + strconv.Itoa(d.pages)
	pageNoW := d.pen.width(page, notePoints)
	d.pen.write(page, notePoints, x+w-pageNoW, d.sheet.Margin, pageNoW, headerHeight, "R")
	d.pen.write(d.codes.Campaign, notePoints, x, d.sheet.Margin, w-pageNoW-5, headerHeight, "L")
}

// footer warns, at the bottom of every page, that temporary codes expire.
func (d *document) footer() {
	if d.note == "" {
		return
	}
	pageW, pageH := d.sheet.PageSize()
	d.pen.write(d.note, notePoints, d.sheet.Margin, pageH-d.sheet.Margin-footerHeight,
		pageW-2*d.sheet.Margin, footerHeight, "C")
}

// drawCode draws rec's code with its top-left corner at (x, y): from its
// url, or its stored image.
func (d *document) drawCode(ctx context.Context, rec *wxqr.Record, x, y float64) error {
	if drawnFromURL(rec) {
		m, err := modules(rec.URL)
		if err != nil {
			return err
		}
		d.drawModules(m, x, y)
		return nil
	}
	body, contentType, err := d.codes.image(ctx, rec)
	if err != nil {
		return err
	}
	info, err := d.register(rec, body, contentType)
	if err != nil {
		return err
	}
	d.placeImage(rec.ID, info, x, y)
	return nil
}

// drawModules fills the dark modules of m as one path: no seams between
// them, whatever the renderer.
func (d *document) drawModules(m [][]bool, x, y float64) {
	unit := d.sheet.CodeSize / float64(len(m))
	for _, r := range runs(m) {
		left, top := x+float64(r.x)*unit, y+float64(r.y)*unit
		right, bottom := left+float64(r.n)*unit, top+unit
		d.pdf.MoveTo(left, top)
		d.pdf.LineTo(right, top)
		d.pdf.LineTo(right, bottom)
		d.pdf.LineTo(left, bottom)
		d.pdf.ClosePath()
	}
	d.pdf.SetFillColor(0, 0, 0)
	d.pdf.DrawPath("F")
}

// register adds a stored image to the PDF, named by the code's id. An
// image the PDF library refuses (an interlaced PNG, say) is re-encoded
// once; one it still refuses counts as broken.
func (d *document) register(rec *wxqr.Record, body []byte, contentType string) (*fpdf.ImageInfoType, error) {
	kind := "JPG"
	if contentType == wxqr.ContentTypePNG {
		kind = "PNG"
	}
	info, err := d.tryRegister(rec.ID, kind, body)
	if err != nil && kind == "PNG" {
		if plain, perr := reencodePNG(body); perr == nil {
			info, err = d.tryRegister(rec.ID, kind, plain)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", rec.Spec.Key(), errImageMissing, err)
	}
	return info, nil
}

func (d *document) tryRegister(name, kind string, body []byte) (*fpdf.ImageInfoType, error) {
	info := d.pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: kind}, bytes.NewReader(body))
	if err := d.pdf.Error(); err != nil {
		// The library stops at its first error: this one is the image's
		// alone, and the document goes on without it.
		d.pdf.ClearError()
		return nil, err
	}
	return info, nil
}

// placeImage draws a registered image in the code's square, its aspect
// kept, centred.
func (d *document) placeImage(name string, info *fpdf.ImageInfoType, x, y float64) {
	size := d.sheet.CodeSize
	w, h := size, size
	if iw, ih := info.Width(), info.Height(); iw > ih {
		h = size * ih / iw
	} else if ih > iw {
		w = size * iw / ih
	}
	d.pdf.ImageOptions(name, x+(size-w)/2, y+(size-h)/2, w, h, false, fpdf.ImageOptions{}, 0, "")
}

// drawMissing frames the square of a code that could not be printed.
func (d *document) drawMissing(x, y float64) {
	size := d.sheet.CodeSize
	d.pdf.SetDrawColor(160, 160, 160)
	d.pdf.SetLineWidth(0.3)
	d.pdf.Rect(x, y, size, size, "D")
	d.pen.write("image missing", labelPoints, x, y, size, size, "C")
}

// reencodePNG decodes a PNG and encodes it again with Go's encoder, which
// writes what the PDF library reads: no interlacing.
func reencodePNG(body []byte) ([]byte, error) {
	m, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
