package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/wxqr/wxqr/scans"
)

// topCodes is how many codes a campaign page ranks by scans and launches.
const topCodes = 10

// addScanCounts fills in the scan counts of every row, in one read.
func (s *Server) addScanCounts(ctx context.Context, rows []campaignRow) error {
	names := make([]string, len(rows))
	for i, row := range rows {
		names[i] = row.Name
	}
	counts, err := s.cfg.Scans.Campaigns(ctx, names)
	if err != nil {
		return err
	}
	if len(counts) != len(rows) {
		return fmt.Errorf("scan counts of %d campaigns for %d", len(counts), len(rows))
	}
	for i := range rows {
		rows[i].Scans = counts[i]
	}
	return nil
}

// scanView is what a campaign page shows of its scans: the totals, a chart
// of the last days and the codes that brought the most.
type scanView struct {
	Counts scans.Counts
	Chart  chart
	Top    []topCode
}

// topCode is one of a campaign's top codes, named as the campaign's codes
// are.
type topCode struct {
	ID, Label, Kind, AppID string
	scans.Counts
}

// campaignScans reads what the campaign page shows of its scans, up to
// today (at now).
func (s *Server) campaignScans(ctx context.Context, name string, now time.Time) (scanView, error) {
	var v scanView
	counts, err := s.cfg.Scans.Campaigns(ctx, []string{name})
	if err != nil {
		return v, err
	}
	if len(counts) != 1 {
		return v, fmt.Errorf("scan counts of %d campaigns for 1", len(counts))
	}
	v.Counts = counts[0]
	days, err := s.cfg.Scans.Days(ctx, name, now.AddDate(0, 0, 1-chartDays), now)
	if err != nil {
		return v, err
	}
	if len(days) == 0 {
		return v, fmt.Errorf("no days of scan counts for the last %d days", chartDays)
	}
	v.Chart = newChart(days)
	v.Top, err = s.topCodes(ctx, name)
	return v, err
}

// topCodes returns the campaign's codes that brought the most scans and
// launches, with their labels.
func (s *Server) topCodes(ctx context.Context, name string) ([]topCode, error) {
	top, err := s.cfg.Scans.Top(ctx, name, topCodes)
	if err != nil || len(top) == 0 {
		return nil, err
	}
	ids := make([]string, len(top))
	for i, c := range top {
		ids[i] = c.ID
	}
	recs, err := s.cfg.Catalog.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	codes := make([]topCode, len(top))
	for i, c := range top {
		codes[i] = topCode{ID: c.ID, Label: c.ID, Counts: c.Counts}
		if i < len(recs) && recs[i] != nil { // nil: deleted since it was counted
			codes[i].Label, codes[i].Kind, codes[i].AppID = recs[i].Label(), string(recs[i].Kind), recs[i].AppID
		}
	}
	return codes, nil
}
