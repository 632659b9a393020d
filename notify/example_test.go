package notify_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wxqr/wxqr/notify"
)

// A receiver checks the signature over the body as received before it
// trusts the event.
func ExampleVerify() {
	const secret = "the WXQR_NOTIFY_SECRET of the workers"
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !notify.Verify(secret, body, r.Header.Get(notify.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("trusted:", r.Header.Get(notify.HeaderEvent))
	})

	body := `{"id":"campaign_finished:spring:3","event":"campaign_finished","campaign":"spring"}`
	for _, signature := range []string{notify.Sign(secret, []byte(body)), notify.Sign("a guess", []byte(body))} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/wxqr", strings.NewReader(body))
		req.Header.Set(notify.HeaderEvent, "campaign_finished")
		req.Header.Set(notify.HeaderSignature, signature)
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// trusted: campaign_finished
	// 200
	// 401
}
