// The two example rules in Go: an S3 bucket blocks all public access; an RDS instance holding
// confidential or restricted data is encrypted with a customer-managed KMS key.
package main

import (
	_ "embed"
	"strings"

	"example.com/acme-rules/sdk"
)

//go:embed metadata.json
var metadata []byte // copied from ../metadata.json by build.sh

var s3Flags = []string{"blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets"}

const pab = "supplementaryConfiguration.PublicAccessBlockConfiguration"

func readsOf(rule int) int { return 4 }

func s3(r *sdk.Resource) sdk.Result {
	present := 0
	var off []string
	var offEv, all []sdk.Evidence
	for i, f := range s3Flags {
		if r.Raw(i) != nil {
			present++
		}
		ev := sdk.Ev(pab+"."+f, r.Raw(i))
		all = append(all, ev)
		if !r.IsTrue(i) {
			off = append(off, f)
			offEv = append(offEv, ev)
		}
	}
	switch {
	case present == 0:
		return sdk.Result{Status: "fail", Reason: "the bucket has no public access block", Evidence: []sdk.Evidence{sdk.Ev(pab, nil)}}
	case len(off) == 0:
		return sdk.Result{Status: "pass", Evidence: all}
	default:
		return sdk.Result{Status: "fail", Reason: "public access is not fully blocked: " + strings.Join(off, ", ") + " not on", Evidence: offEv}
	}
}

func rds(in *sdk.Input, r *sdk.Resource) sdk.Result {
	class, ok := r.String(0)
	if !ok {
		return sdk.Result{Status: "not_applicable", Reason: "the instance has no DataClassification tag"}
	}
	applies := false
	for _, l := range strings.Split(in.ParamString("levels"), ",") {
		if strings.EqualFold(strings.TrimSpace(l), strings.TrimSpace(class)) && strings.TrimSpace(l) != "" {
			applies = true
		}
	}
	if !applies {
		return sdk.Result{Status: "not_applicable", Reason: "the instance holds " + class + " data"}
	}
	if !r.IsTrue(1) {
		return sdk.Result{Status: "fail", Reason: "the instance's storage is not encrypted", Evidence: []sdk.Evidence{sdk.Ev("configuration.storageEncrypted", r.Raw(1))}}
	}
	key, ok := r.String(2)
	if !ok {
		return sdk.Result{Status: "fail", Reason: "the instance names no KMS key", Evidence: []sdk.Evidence{sdk.Ev("configuration.kmsKeyId", nil)}}
	}
	manager, _ := r.String(3)
	ev := []sdk.Evidence{sdk.Ev("configuration.kmsKeyId", r.Raw(2))}
	if strings.EqualFold(manager, "AWS") || strings.Contains(key, "alias/aws/") {
		return sdk.Result{Status: "fail", Reason: "the instance is encrypted with an AWS-managed key", Evidence: ev}
	}
	return sdk.Result{Status: "pass", Evidence: ev}
}

//go:wasmexport aw_alloc
func awAlloc(n int32) int32 { return sdk.Alloc(n) }

//go:wasmexport aw_metadata
func awMetadata() int64 { return sdk.Give(metadata) }

//go:wasmexport aw_evaluate
func awEvaluate(ptr, n int32) int64 {
	return sdk.Evaluate(ptr, n, readsOf, func(in *sdk.Input, r *sdk.Resource) sdk.Result {
		if in.Rule == 0 {
			return s3(r)
		}
		return rds(in, r)
	})
}

func main() {}
