package wxqr_test

import (
	"testing"

	"github.com/wxqr/wxqr"
)

func TestRecordLabel(t *testing.T) {
	tests := []struct {
		name string
		rec  wxqr.Record
		want string
	}{
		{"name", wxqr.Record{Name: " Store 12 - entrance ", Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, SceneID: 12}}, "Store 12 - entrance"},
		{"blank name", wxqr.Record{Name: "  ", Spec: wxqr.Spec{Kind: wxqr.KindOAPerm, SceneID: 12}}, "12"},
		{"string scene", wxqr.Record{Spec: wxqr.Spec{Kind: wxqr.KindOATemp, SceneStr: "spring"}}, "spring"},
		{"path", wxqr.Record{Spec: wxqr.Spec{Kind: wxqr.KindWxaCode, Path: "pages/item/index?id=1"}}, "pages/item/index?id=1"},
		{"page and scene", wxqr.Record{Spec: wxqr.Spec{Kind: wxqr.KindWxaUnlimited, Path: "pages/item/index", SceneStr: "id=1"}}, "pages/item/index · id=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rec.Label(); got != tt.want {
				t.Errorf("Label() = %q, want %q", got, tt.want)
			}
		})
	}
}
