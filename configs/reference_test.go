package configs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md from the schema")

// docs/config.md is generated from the schema; this test fails when the two
// differ, so the reference cannot drift from the code.
func TestReferenceDoc(t *testing.T) {
	got, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "config.md")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: generate it with: go test ./configs -run TestReferenceDoc -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/config.md differs from the schema (configs/schema.go); regenerate it with:\n\tgo test ./configs -run TestReferenceDoc -update\nfirst difference: %s", firstDiff(string(want), string(got)))
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n\tfile:      " + x + "\n\tgenerated: " + y
		}
	}
	return "(none)"
}

// Every field of the schema, however deep, is in the reference, by its path.
func TestReferenceHasEveryField(t *testing.T) {
	ref, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(rt reflect.Type, path string)
	walk = func(rt reflect.Type, path string) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			p := yamlKey(f)
			if path != "" {
				p = path + "." + p
			}
			switch ft := f.Type; {
			case ft == reflect.TypeOf(Sections{}):
				for name, sec := range Default().Algo.Sections {
					walk(reflect.TypeOf(sec).Elem(), path+"."+name)
				}
			case ft.Kind() == reflect.Struct:
				walk(ft, p)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+"[i]")
			default:
				if !bytes.Contains(ref, []byte("| `"+p+"` |")) {
					t.Errorf("reference lacks %s", p)
				}
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
}
