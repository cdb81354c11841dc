package energy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"codeberg.org/go-pdf/fpdf"
)

// Document is a report as the PDF shows it: texts already in the
// reader's language, figures already formatted.
type Document struct {
	Title, Subtitle string
	Sections        []Section
	// Footer is printed at the bottom of each page.
	Footer string
}

// Section is a heading over key–value rows, a table, bars, or any of
// them.
type Section struct {
	Heading string
	Rows    [][2]string
	Table   *Table
	Bars    *Bars
	Note    string
}

// Table is a header and rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// Bars is a bar chart: one bar per label, with an optional second series
// (a baseline) drawn as a mark on each bar.
type Bars struct {
	Labels []string
	Values []float64 // NaN: no bar
	Marks  []float64 // NaN or absent: no mark
	Unit   string
	// Legend names the bars and the marks.
	Legend [2]string
}

// Scale is the value the top of a chart of b stands for: the largest bar
// or mark, or 1 when none is above zero. The page and the PDF draw the
// same bars to it.
func (b *Bars) Scale() float64 {
	peak := 0.0
	for i, v := range b.Values {
		if !math.IsNaN(v) {
			peak = math.Max(peak, v)
		}
		if i < len(b.Marks) && !math.IsNaN(b.Marks[i]) {
			peak = math.Max(peak, b.Marks[i])
		}
	}
	if peak <= 0 {
		return 1
	}
	return peak
}

// FontPaths are where a TrueType font with Japanese glyphs is looked for:
// IPAex Gothic as Debian's fonts-ipaexfont-gothic installs it.
var FontPaths = []string{
	"/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
	"/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
}

// ErrNoFont is a report in a language whose glyphs no installed font has.
var ErrNoFont = errors.New("no TrueType font with Japanese glyphs is installed (Debian: fonts-ipaexfont-gothic)")

// FindFont returns the first of paths that exists, or "".
func FindFont(paths []string) string {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// WritePDF writes doc as an A4 PDF to w, in the TrueType font at font
// (Unicode text, Japanese included); with font empty it uses the PDF's
// core Helvetica, which has Latin-1 only, so needsCJK then refuses with
// ErrNoFont.
func WritePDF(w io.Writer, doc Document, font string, needsCJK bool) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	family := "Helvetica"
	tr := func(s string) string { return s }
	if font != "" {
		data, err := os.ReadFile(font)
		if err != nil {
			return fmt.Errorf("read the report's font: %w", err)
		}
		pdf.AddUTF8FontFromBytes("body", "", data)
		family = "body"
	} else {
		if needsCJK {
			return ErrNoFont
		}
		tr = pdf.UnicodeTranslatorFromDescriptor("")
	}
	pdf.SetTitle(doc.Title, true)
	pdf.SetCreator("Hearth", true)
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 18)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont(family, "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("%s — %d", doc.Footer, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFont(family, "", 16)
	pdf.SetTextColor(20, 20, 20)
	pdf.MultiCell(0, 8, tr(doc.Title), "", "L", false)
	if doc.Subtitle != "" {
		pdf.SetFont(family, "", 10)
		pdf.SetTextColor(90, 90, 90)
		pdf.MultiCell(0, 5, tr(doc.Subtitle), "", "L", false)
	}
	width, _ := pdf.GetPageSize()
	usable := width - 30
	for _, s := range doc.Sections {
		pdf.Ln(4)
		pdf.SetFont(family, "", 12)
		pdf.SetTextColor(11, 92, 173)
		pdf.MultiCell(0, 7, tr(s.Heading), "B", "L", false)
		pdf.SetTextColor(20, 20, 20)
		pdf.SetFont(family, "", 9.5)
		for _, r := range s.Rows {
			pdf.CellFormat(usable*0.55, 5.5, tr(r[0]), "", 0, "L", false, 0, "")
			pdf.CellFormat(usable*0.45, 5.5, tr(r[1]), "", 1, "R", false, 0, "")
		}
		if t := s.Table; t != nil && len(t.Header) > 0 {
			cw := usable / float64(len(t.Header))
			pdf.SetFillColor(235, 240, 247)
			for i, h := range t.Header {
				align := "R"
				if i == 0 {
					align = "L"
				}
				pdf.CellFormat(cw, 6, tr(h), "B", 0, align, true, 0, "")
			}
			pdf.Ln(-1)
			for _, row := range t.Rows {
				for i, c := range row {
					align := "R"
					if i == 0 {
						align = "L"
					}
					pdf.CellFormat(cw, 5.5, tr(c), "", 0, align, false, 0, "")
				}
				pdf.Ln(-1)
			}
		}
		if b := s.Bars; b != nil && len(b.Labels) > 0 {
			drawBars(pdf, b, family, tr, usable)
		}
		if s.Note != "" {
			pdf.SetFont(family, "", 8)
			pdf.SetTextColor(90, 90, 90)
			pdf.MultiCell(0, 4.5, tr(s.Note), "", "L", false)
			pdf.SetTextColor(20, 20, 20)
		}
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("write PDF: %w", err)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write PDF: %w", err)
	}
	return nil
}

// drawBars draws b as bars 40 mm high across the usable width.
func drawBars(pdf *fpdf.Fpdf, b *Bars, family string, tr func(string) string, usable float64) {
	const height = 40.0
	if pdf.GetY()+height+14 > 280 {
		pdf.AddPage()
	}
	top := pdf.GetY() + 3
	left := pdf.GetX()
	peak := b.Scale()
	slot := usable / float64(len(b.Labels))
	pdf.SetDrawColor(200, 200, 200)
	pdf.Line(left, top+height, left+usable, top+height)
	pdf.SetFont(family, "", 6.5)
	pdf.SetTextColor(90, 90, 90)
	pdf.Text(left, top-0.5, tr(fmt.Sprintf("%s %s", formatPeak(peak), b.Unit)))
	for i, label := range b.Labels {
		x := left + float64(i)*slot
		if v := b.Values[i]; !math.IsNaN(v) && v > 0 {
			h := height * v / peak
			pdf.SetFillColor(11, 92, 173)
			pdf.Rect(x+slot*0.15, top+height-h, slot*0.7, h, "F")
		}
		if i < len(b.Marks) && !math.IsNaN(b.Marks[i]) {
			y := top + height - height*b.Marks[i]/peak
			pdf.SetDrawColor(194, 65, 12)
			pdf.SetLineWidth(0.6)
			pdf.Line(x+slot*0.05, y, x+slot*0.95, y)
			pdf.SetLineWidth(0.2)
		}
		if len(b.Labels) <= 16 || i%2 == 0 {
			pdf.Text(x+slot*0.1, top+height+3.5, tr(label))
		}
	}
	pdf.SetY(top + height + 5)
	if b.Legend[0] != "" {
		pdf.SetFillColor(11, 92, 173)
		pdf.Rect(left, pdf.GetY()+1, 3, 2.5, "F")
		pdf.SetX(left + 4)
		pdf.CellFormat(40, 4.5, tr(b.Legend[0]), "", 0, "L", false, 0, "")
		if b.Legend[1] != "" {
			pdf.SetDrawColor(194, 65, 12)
			pdf.SetLineWidth(0.6)
			y := pdf.GetY() + 2.2
			pdf.Line(left+45, y, left+49, y)
			pdf.SetLineWidth(0.2)
			pdf.SetX(left + 50)
			pdf.CellFormat(60, 4.5, tr(b.Legend[1]), "", 0, "L", false, 0, "")
		}
		pdf.Ln(5)
	}
	pdf.SetTextColor(20, 20, 20)
	pdf.SetDrawColor(0, 0, 0)
}

func formatPeak(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
