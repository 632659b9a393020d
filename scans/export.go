package scans

import (
	"context"

	"github.com/wxqr/wxqr"
)

// ExportColumns name the counts an export adds after each code's record
// (catalog.WriteCSV, catalog.WriteJSONL), in the order ExportValues gives
// them. Names and order are part of the export formats.
var ExportColumns = []string{"scans", "new_follows", "unfollows", "unique_scanners", "launches"}

// ExportValues returns the counts of each of recs, in order, as
// ExportColumns names them: the catalog.Extra of an export, reading the
// counts of a whole batch in one round trip.
func (s *Store) ExportValues(ctx context.Context, recs []*wxqr.Record) ([][]int64, error) {
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID
	}
	counts, err := s.Codes(ctx, ids)
	if err != nil {
		return nil, err
	}
	rows := make([][]int64, len(counts))
	for i, c := range counts {
		rows[i] = []int64{c.Scans, c.NewFollows, c.Unfollows, c.UniqueScanners, c.Launches}
	}
	return rows, nil
}
