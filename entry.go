package wxqr

import (
	"net/url"
	"strings"
)

// Entry keys name the way into a Mini Program that a code opens, in the one
// form that both the catalog (from the code's Spec) and a launch reported by
// the Mini Program (from its page and query) can compute: WeChat pushes
// nothing when a Mini Program code is scanned, so a launch is matched to its
// code by entry key alone.
//
// The forms:
//
//	scene:{scene}             wxa_unlimited: the Mini Program sees query.scene
//	path:{page}?{query}       wxa_code, wxa_qrcode: the query's parameters sorted by name
//	path:{page}               the same without a query
//
// Codes that differ only in what the Mini Program cannot see (width,
// colours; for wxa_unlimited, the page) share an entry key.
const (
	sceneEntryPrefix = "scene:"
	pathEntryPrefix  = "path:"
)

// EntryKey returns the entry key of a Mini Program code (see
// LaunchEntryKeys), or "" for an Official Account code, which a launch never
// names.
func (s Spec) EntryKey() string {
	switch s.Kind {
	case KindWxaUnlimited:
		return sceneEntryPrefix + s.SceneStr
	case KindWxaQRCode, KindWxaCode:
		page, rawQuery, _ := strings.Cut(s.Path, "?")
		query, err := url.ParseQuery(rawQuery)
		if err != nil {
			// A query the Mini Program could not decode either: keep it as
			// written, so that it at least never matches another code's.
			return pathEntryPrefix + strings.TrimPrefix(page, "/") + "?" + rawQuery
		}
		return pathEntryKey(page, query)
	default:
		return ""
	}
}

// LaunchEntryKeys returns the entry keys that a launch of page with query
// (as the Mini Program's onLaunch receives them) may have come from, best
// first: the scene entry when query has a "scene" (a wxa_unlimited code),
// then the path entry (wxa_code, wxa_qrcode). WeChat hands query.scene to
// the Mini Program URL-encoded (its documentation says to decodeURIComponent
// it), so it is decoded here; a value that does not decode is taken as is.
func LaunchEntryKeys(page string, query map[string]string) []string {
	values := make(url.Values, len(query))
	for name, v := range query {
		values.Set(name, v)
	}
	path := pathEntryKey(page, values)
	if scene, ok := query["scene"]; ok {
		if decoded, err := url.PathUnescape(scene); err == nil {
			scene = decoded
		}
		return []string{sceneEntryPrefix + scene, path}
	}
	return []string{path}
}

// pathEntryKey is the entry key of page with query. The page is taken
// without a leading "/", which the Mini Program never reports; Encode sorts
// the parameters by name, so their order in the code's path does not matter.
func pathEntryKey(page string, query url.Values) string {
	key := pathEntryPrefix + strings.TrimPrefix(page, "/")
	if len(query) > 0 {
		key += "?" + query.Encode()
	}
	return key
}
