package jobfile

import (
	"context"
	"io"
)

// Unexported names the external tests use.
var ExactInteger = exactInteger

const (
	MaxRecordBytes   = maxRecordBytes
	XLSXPartInMemory = xlsxPartInMemory
)

// ReadCSV is s.Each over r, an open jobs file.
func ReadCSV(ctx context.Context, s CSVFile, r io.Reader, fn func(line int, r *Row) error) error {
	return s.read(ctx, r, fn)
}
