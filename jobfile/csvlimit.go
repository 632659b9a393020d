package jobfile

import (
	"bytes"
	"fmt"
	"io"
)

// maxRecordBytes bounds one record of a jobs file, newlines inside quotes
// included. The longest valid row is a few kilobytes (a 1024-byte path and
// short fields); the bound is there so that a quote that never closes fails
// at once instead of reading the rest of the file into one field.
const maxRecordBytes = 64 << 10

// recordTooLongError is what recordLimiter's Read returns past the bound.
type recordTooLongError struct {
	line int // where the record starts
}

func (e *recordTooLongError) Error() string {
	return fmt.Sprintf("record longer than %d bytes (unterminated quote?)", maxRecordBytes)
}

// recordLimiter passes CSV through, following quotes to find where each
// record ends, and fails a Read once a record passes max bytes. It holds
// nothing but its counters. A quote inside an unquoted field (invalid CSV)
// throws its count off, but encoding/csv reports that line first: it reads
// at most its buffer (4 KiB) ahead of the record it parses, far below max.
type recordLimiter struct {
	r   io.Reader
	max int
	// inQuotes: the bytes so far hold an odd number of quotes of the
	// current record, so a newline does not end it. ("" inside a quoted
	// field toggles twice.)
	inQuotes  bool
	size      int // bytes of the current record so far
	line      int // the current line, 1-based
	startLine int // the line the current record starts on
	err       error
}

func newRecordLimiter(r io.Reader, max int) *recordLimiter {
	return &recordLimiter{r: r, max: max, line: 1, startLine: 1}
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexAny(p[i:n], "\"\n")
		if j < 0 {
			j = n - i
		} else {
			j++ // through the quote or newline
		}
		if l.size+j > l.max {
			// Pass on what fits; the next Read fails.
			l.err = &recordTooLongError{line: l.startLine}
			return i + l.max - l.size, nil
		}
		l.size += j
		i += j
		switch p[i-1] {
		case '"':
			l.inQuotes = !l.inQuotes
		case '\n':
			l.line++
			if !l.inQuotes {
				l.size, l.startLine = 0, l.line
			}
		}
	}
	return n, err
}
