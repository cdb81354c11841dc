package shadow_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hearthiot/hearth/device/shadow"
)

// TestAWSExamples reproduces the examples of AWS's Device Shadow pages. The
// timestamps of AWS's examples vary from message to message; here each
// update happens at one time.
func TestAWSExamples(t *testing.T) {
	// Device Shadow service documents, "Delta state": fields only desired
	// are in the delta, fields only reported are not.
	t.Run("delta state", func(t *testing.T) {
		doc, _ := run(t, `{"state":{"desired":{"color":"RED","state":"STOP"},"reported":{"color":"GREEN","engine":"ON"}}}`)
		got := jsb(t, shadow.GetResponse(doc, "", 123456789))
		want := js(t, `{"state":{"desired":{"color":"RED","state":"STOP"},"reported":{"color":"GREEN","engine":"ON"},"delta":{"color":"RED","state":"STOP"}},
			"metadata":{"desired":{"color":{"timestamp":100},"state":{"timestamp":100}},"reported":{"color":{"timestamp":100},"engine":{"timestamp":100}},
			            "delta":{"color":{"timestamp":100},"state":{"timestamp":100}}},
			"version":1,"timestamp":123456789}`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("get (-want +got):\n%s", diff)
		}
	})
	// Device Shadow service documents, "Delta state": when nested objects
	// differ, the delta contains the path all the way to the root.
	t.Run("nested delta", func(t *testing.T) {
		doc, _ := run(t, `{"state":{"desired":{"lights":{"color":{"r":255,"g":255,"b":255}}},"reported":{"lights":{"color":{"r":255,"g":0,"b":255}}}}}`)
		if diff := cmp.Diff(js(t, `{"lights":{"color":{"g":255}}}`), any(shadow.Delta(doc))); diff != "" {
			t.Errorf("delta (-want +got):\n%s", diff)
		}
	})
	// Device Shadow service documents, "Array values in shadow documents".
	t.Run("arrays", func(t *testing.T) {
		doc, _ := run(t, `{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}}}`, `{"state":{"desired":{"colors":["RED"]}}}`)
		if diff := cmp.Diff(js(t, `{"colors":["RED"]}`), any(doc.State.Desired)); diff != "" {
			t.Errorf("desired (-want +got):\n%s", diff)
		}
		if _, err := shadow.ParseUpdate([]byte(`{"state":{"desired":{"colors":[null,"RED","GREEN"]}}}`), shadow.Limits{}); err == nil {
			t.Error("array with null accepted, AWS rejects it")
		}
	})
	// Device Shadow service documents, "Empty shadow document properties":
	// a device reports and removes desired in one update.
	t.Run("remove desired while reporting", func(t *testing.T) {
		doc, _ := run(t, `{"state":{"desired":{"color":"red"}}}`, `{"state":{"reported":{"color":"red"},"desired":null}}`)
		want := js(t, `{"state":{"reported":{"color":"red"}},"metadata":{"reported":{"color":{"timestamp":101}}},"version":2,"timestamp":101}`)
		if diff := cmp.Diff(want, stored(t, doc)); diff != "" {
			t.Errorf("document (-want +got):\n%s", diff)
		}
	})
	// Device Shadow MQTT topics / Interacting with shadows: myLightBulb is
	// reported red, an app desires green; accepted, delta and documents.
	t.Run("myLightBulb", func(t *testing.T) {
		first, err := shadow.ParseUpdate([]byte(`{"state":{"reported":{"color":"red"}}}`), shadow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		r1, err := shadow.Apply(nil, first, 1483467764, shadow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		second, err := shadow.ParseUpdate([]byte(`{"state":{"desired":{"color":"green"}}}`), shadow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := shadow.Apply(&r1.Document, second, 1483468612, shadow.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, want string
			got        []byte
		}{
			{"accepted", `{"state":{"desired":{"color":"green"}},"metadata":{"desired":{"color":{"timestamp":1483468612}}},"version":2,"timestamp":1483468612}`, r2.Accepted},
			{"delta", `{"version":2,"timestamp":1483468612,"state":{"color":"green"},"metadata":{"color":{"timestamp":1483468612}}}`, r2.Delta},
			{"documents", `{"previous":{"state":{"reported":{"color":"red"}},"metadata":{"reported":{"color":{"timestamp":1483467764}}},"version":1},
				"current":{"state":{"desired":{"color":"green"},"reported":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":1483468612}},"reported":{"color":{"timestamp":1483467764}}},"version":2},
				"timestamp":1483468612}`, r2.Documents},
		} {
			if diff := cmp.Diff(js(t, c.want), jsb(t, c.got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.name, diff)
			}
		}
		if diff := cmp.Diff([]shadow.Change{{Section: "desired", Key: "color", New: "green"}}, r2.Changes); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
	})
}
