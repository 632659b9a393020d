// Package jobfile reads and checks a campaign's jobs file and queues its
// codes: the one implementation behind enqueue and the monitor's upload.
//
// A jobs file is CSV or an Excel workbook (told apart by content, see
// Sniff), read a row at a time so that memory does not grow with it. Its
// rows are checked (Checker) against WeChat's rules and wxqr's; Validate
// counts them and finds the duplicates in a first pass; Queuer queues them
// in a second pass, skipping what the catalog holds already.
package jobfile

import (
	"errors"
	"fmt"
)

// InputError is a jobs file that cannot be read as one (no header, an
// unknown column, a broken quote, a workbook without the sheet asked for):
// the fault is the file's, and nothing was queued. Errors reading a file
// that is fine (a disk error) are not InputErrors.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// OpenOptions say how Open reads a jobs file.
type OpenOptions struct {
	// Sheet is the sheet of a workbook to read, matched without regard to
	// case. Default "": the first visible sheet. A CSV file with a Sheet
	// is refused.
	Sheet string
	HeaderRules
}

// ErrSheetOfCSV is Open's error (an InputError) when a sheet is named
// but the file is CSV.
var ErrSheetOfCSV = errors.New("a sheet was named, but the file is CSV, not an Excel workbook")

// Open returns the jobs file at path, CSV or workbook by its content
// (Sniff), named display in errors, and a function that releases it (a
// workbook's temporary files).
func Open(path, display string, opts OpenOptions) (Source, func(), error) {
	nothing := func() {}
	format, err := Sniff(path, display)
	if err != nil {
		return nil, nothing, err
	}
	if format == FormatCSV {
		if opts.Sheet != "" {
			return nil, nothing, &InputError{fmt.Errorf("%s: %w", display, ErrSheetOfCSV)}
		}
		return CSVFile{Path: path, Display: display, HeaderRules: opts.HeaderRules}, nothing, nil
	}
	src, err := OpenWorkbook(path, display, opts.Sheet, opts.HeaderRules)
	if err != nil {
		return nil, nothing, err
	}
	return src, src.Close, nil
}
