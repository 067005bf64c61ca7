// Package sdk is the Assetwarden rule SDK for Go (rule ABI 1), for modules built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rules.wasm .
//
// The main package exports aw_alloc, aw_metadata and aw_evaluate with //go:wasmexport and calls
// Alloc, Give and Evaluate. The host calls _initialize once per instance; each call runs in a
// fresh instance, so buffers handed out here are kept alive and never reused.
package sdk

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// Resource is one resource of a batch: index, type, ARN and the raw JSON of each declared path
// ("" when the resource has no value there), in the rule's reads order.
type Resource struct {
	Index  int
	Type   string
	ARN    string
	Values []string
}

// IsTrue says whether value i is the JSON true (a string "true" is not).
func (r *Resource) IsTrue(i int) bool { return i < len(r.Values) && r.Values[i] == "true" }

// String returns value i as a string, and whether it is one.
func (r *Resource) String(i int) (string, bool) {
	if i >= len(r.Values) || r.Values[i] == "" {
		return "", false
	}
	var s string
	if err := json.Unmarshal([]byte(r.Values[i]), &s); err != nil {
		return "", false
	}
	return s, true
}

// Raw returns value i's JSON, or nil when absent (for evidence).
func (r *Resource) Raw(i int) json.RawMessage {
	if i >= len(r.Values) || r.Values[i] == "" {
		return nil
	}
	return json.RawMessage(r.Values[i])
}

// Input is a decoded evaluation call.
type Input struct {
	Rule      int
	Params    map[string]json.RawMessage
	Resources []Resource
}

// ParamString returns a string parameter.
func (in *Input) ParamString(name string) string {
	var s string
	_ = json.Unmarshal(in.Params[name], &s)
	return s
}

// Parse decodes the input; readsOf gives the number of paths each rule declared.
func Parse(text string, readsOf func(rule int) int) (*Input, error) {
	lines := strings.Split(text, "\n")
	var h []string
	if len(lines) > 0 {
		h = strings.Split(lines[0], " ")
	}
	if len(h) != 3 || h[0] != "AW1" {
		return nil, fmt.Errorf("unexpected header %q", lines[0])
	}
	rule, err1 := strconv.Atoi(h[1])
	count, err2 := strconv.Atoi(h[2])
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("bad header %q", lines[0])
	}
	in := &Input{Rule: rule, Params: map[string]json.RawMessage{}}
	n := readsOf(rule)
	at := 1
	for at < len(lines) && strings.HasPrefix(lines[at], "P ") {
		name, value, _ := strings.Cut(lines[at][2:], " ")
		in.Params[name] = json.RawMessage(value)
		at++
	}
	for k := 0; k < count; k++ {
		if at >= len(lines) || !strings.HasPrefix(lines[at], "R ") {
			return nil, fmt.Errorf("expected resource %d", k)
		}
		parts := strings.SplitN(lines[at][2:], " ", 3)
		at++
		if len(parts) < 2 {
			return nil, fmt.Errorf("bad resource line")
		}
		idx, err := strconv.Atoi(parts[0])
		if err != nil {
			return nil, err
		}
		r := Resource{Index: idx, Type: parts[1]}
		if len(parts) == 3 {
			r.ARN = parts[2]
		}
		for j := 0; j < n; j++ {
			if at >= len(lines) {
				return nil, fmt.Errorf("input ends early")
			}
			r.Values = append(r.Values, lines[at])
			at++
		}
		in.Resources = append(in.Resources, r)
	}
	return in, nil
}

// Evidence is an attribute path and its value.
type Evidence struct {
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// Result is the verdict on one resource: Status is "pass", "fail", "not_applicable" or "error".
type Result struct {
	I        int        `json:"i"`
	Status   string     `json:"status"`
	Reason   string     `json:"reason,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Ev makes evidence; a nil value becomes JSON null.
func Ev(path string, value json.RawMessage) Evidence {
	if value == nil {
		value = json.RawMessage("null")
	}
	return Evidence{Path: path, Value: value}
}

var keep [][]byte

// Alloc is aw_alloc: memory for the host to write the input into.
func Alloc(n int32) int32 {
	b := make([]byte, n+1)
	keep = append(keep, b)
	return int32(uintptr(unsafe.Pointer(&b[0])))
}

// Give hands bytes to the host: address and length packed as the ABI's int64.
func Give(b []byte) int64 {
	if len(b) == 0 {
		b = []byte("[]")
	}
	keep = append(keep, b)
	return int64(uintptr(unsafe.Pointer(&b[0])))<<32 | int64(len(b))
}

// InputAt reads the input the host wrote.
func InputAt(ptr, n int32) string {
	return unsafe.String((*byte)(unsafe.Pointer(uintptr(ptr))), int(n))
}

//go:wasmimport assetwarden log
func hostLog(ptr, n int32)

// Log sends a line to the host's bounded log.
func Log(msg string) {
	if len(msg) == 0 {
		return
	}
	b := []byte(msg)
	hostLog(int32(uintptr(unsafe.Pointer(&b[0]))), int32(len(b)))
}

// Evaluate runs rule on every resource of the input at (ptr, n) and returns the packed output.
func Evaluate(ptr, n int32, readsOf func(int) int, rule func(*Input, *Resource) Result) int64 {
	in, err := Parse(InputAt(ptr, n), readsOf)
	if err != nil {
		Log("bad input: " + err.Error())
		return Give([]byte("[]"))
	}
	out := make([]Result, 0, len(in.Resources))
	for i := range in.Resources {
		res := rule(in, &in.Resources[i])
		res.I = in.Resources[i].Index
		out = append(out, res)
	}
	b, err := json.Marshal(out)
	if err != nil {
		Log("cannot encode results: " + err.Error())
		return Give([]byte("[]"))
	}
	return Give(b)
}
