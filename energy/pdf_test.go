package energy_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearthiot/hearth/energy"
)

func sampleDoc() energy.Document {
	return energy.Document{
		Title: "エネルギー月報 Hotel Sakura", Subtitle: "2026年11月", Footer: "Hearth",
		Sections: []energy.Section{
			{Heading: "消費量", Rows: [][2]string{{"ガス", "12,345.6 m³"}, {"前年同月", "13,001.0 m³"}}},
			{Heading: "日別", Bars: &energy.Bars{Labels: []string{"1", "2", "3"}, Values: []float64{10, math.NaN(), 30}, Marks: []float64{12, 14, math.NaN()}, Unit: "m³", Legend: [2]string{"実績", "ベースライン"}}},
			{Heading: "快適性", Table: &energy.Table{Header: []string{"機器", "1,000 ppm超の時間"}, Rows: [][]string{{"hotel-iaq-lobby", "3 h"}}}},
		},
	}
}

// The PDF renders: pdftotext, a real PDF reader, finds the Japanese and
// English texts in it.
func TestWritePDFReadsBack(t *testing.T) {
	font := energy.FindFont(energy.FontPaths)
	_, noReader := exec.LookPath("pdftotext")
	if font == "" || noReader != nil {
		// CI sets HEARTH_REQUIRE_TOOLS: there a missing tool fails.
		if os.Getenv("HEARTH_REQUIRE_TOOLS") != "" {
			t.Fatal("apt-get install poppler-utils fonts-ipaexfont-gothic: pdftotext or the font is missing and HEARTH_REQUIRE_TOOLS is set")
		}
		t.Skip("pdftotext (poppler-utils) or a Japanese TrueType font (fonts-ipaexfont-gothic) is not installed")
	}
	var buf bytes.Buffer
	if err := energy.WritePDF(&buf, sampleDoc(), font, true); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	for _, want := range []string{"エネルギー月報 Hotel Sakura", "2026年11月", "12,345.6 m³", "前年同月", "hotel-iaq-lobby", "ベースライン"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, out)
		}
	}
}

// Without a font, Japanese is refused rather than printed as question
// marks; English is written in the core font.
func TestWritePDFWithoutFont(t *testing.T) {
	if err := energy.WritePDF(&bytes.Buffer{}, sampleDoc(), "", true); !errors.Is(err, energy.ErrNoFont) {
		t.Errorf("Japanese without a font: %v", err)
	}
	var buf bytes.Buffer
	if err := energy.WritePDF(&buf, energy.Document{Title: "Energy report", Sections: []energy.Section{{Heading: "Use", Rows: [][2]string{{"Gas", "1 m³"}}}}}, "", false); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Errorf("English without a font: %v", err)
	}
}

// Bars are drawn to their largest bar or mark; NaN is no bar, and a chart
// with nothing above zero still has a scale.
func TestBarsScale(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name          string
		values, marks []float64
		want          float64
	}{
		{"empty", nil, nil, 1},
		{"bars", []float64{3, 7.5, 2}, nil, 7.5},
		{"a mark above the bars", []float64{3, 4}, []float64{nan, 9}, 9},
		{"no bars, marks only", []float64{nan, nan}, []float64{2, 5}, 5},
		{"fewer marks than bars", []float64{1, 6, 2}, []float64{8}, 8},
		{"nothing above zero", []float64{0, -4, nan}, []float64{-1}, 1},
	} {
		b := &energy.Bars{Values: c.values, Marks: c.marks}
		if got := b.Scale(); got != c.want {
			t.Errorf("%s: Scale() = %v, want %v", c.name, got, c.want)
		}
	}
}
