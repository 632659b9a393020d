package printsheet_test

import (
	"fmt"

	"github.com/wxqr/wxqr/printsheet"
)

// A sheet as a command's flags or a URL's query give it, and where its
// codes fall on the page.
func ExampleSheetText() {
	sheet, err := printsheet.SheetText{Paper: "letter", Grid: "2x3", Size: "2.5in"}.Sheet()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s, %d codes of %.1f mm a page\n", sheet.Paper, sheet.PerPage(), sheet.CodeSize)
	for i := range 2 {
		x, y := sheet.CodeAt(i)
		fmt.Printf("code %d at (%.1f, %.1f) mm\n", i+1, x, y)
	}

	_, err = printsheet.SheetText{Grid: "5x5"}.Sheet()
	fmt.Println(err)
	// Output:
	// letter, 6 codes of 63.5 mm a page
	// code 1 at (10.0, 18.0) mm
	// code 2 at (78.5, 18.0) mm
	// printsheet: grid 5x5 of 50mm codes needs 270.0 × 300.0 mm, but A4 paper has 190.0 × 261.0 mm inside its 10mm margins and the header and footer lines
}
