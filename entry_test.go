package wxqr_test

import (
	"slices"
	"testing"

	"github.com/wxqr/wxqr"
)

func TestEntryKeys(t *testing.T) {
	tests := []struct {
		name   string
		spec   wxqr.Spec
		want   string            // the spec's entry key
		page   string            // a launch from the code
		query  map[string]string // its query, as onLaunch receives it
		launch []string          // the launch's entry keys
	}{
		{
			name: "unlimited: the scene, URL-decoded, whatever the page",
			spec: wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "id=7&s=b", Path: "pages/a"},
			want: "scene:id=7&s=b",
			page: "pages/a", query: map[string]string{"scene": "id%3D7%26s%3Db"},
			launch: []string{"scene:id=7&s=b", "path:pages/a?scene=id%253D7%2526s%253Db"},
		},
		{
			name: "unlimited: a scene that does not decode is taken as is",
			spec: wxqr.Spec{Kind: wxqr.KindWxaUnlimited, AppID: "m", SceneStr: "100%", Path: "pages/a"},
			want: "scene:100%",
			page: "pages/a", query: map[string]string{"scene": "100%"},
			launch: []string{"scene:100%", "path:pages/a?scene=100%25"},
		},
		{
			name: "path: parameters sorted by name",
			spec: wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "m", Path: "pages/item?z=1&a=%E4%B8%AD"},
			want: "path:pages/item?a=%E4%B8%AD&z=1",
			page: "pages/item", query: map[string]string{"a": "中", "z": "1"},
			launch: []string{"path:pages/item?a=%E4%B8%AD&z=1"},
		},
		{
			name: "path without a query, leading slash dropped",
			spec: wxqr.Spec{Kind: wxqr.KindWxaQRCode, AppID: "m", Path: "/pages/home"},
			want: "path:pages/home",
			page: "pages/home", query: map[string]string{},
			launch: []string{"path:pages/home"},
		},
		{
			name: "a query that does not decode is kept as written",
			spec: wxqr.Spec{Kind: wxqr.KindWxaCode, AppID: "m", Path: "pages/x?a=%zz"},
			want: "path:pages/x?a=%zz",
		},
		{
			name: "Official Account codes have none",
			spec: wxqr.Spec{Kind: wxqr.KindOAPerm, AppID: "o", SceneID: 3},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.EntryKey(); got != tt.want {
				t.Errorf("EntryKey() = %q, want %q", got, tt.want)
			}
			if tt.launch == nil {
				return
			}
			got := wxqr.LaunchEntryKeys(tt.page, tt.query)
			if !slices.Equal(got, tt.launch) {
				t.Errorf("LaunchEntryKeys(%q, %v) = %q, want %q", tt.page, tt.query, got, tt.launch)
			}
		})
	}
}
