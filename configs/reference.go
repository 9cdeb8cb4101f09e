package configs

import (
	"bytes"
	"embed"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/remask/remask/algos"
)

// source is this package's Go files, so that the reference can read the
// schema's comments, which reflection cannot see, from the binary as well as
// from a test.
//
//go:embed *.go
var source embed.FS

// Reference is the config reference in Markdown (docs/config.md): every field
// of Config by its dotted path, with its YAML type, its default (Default()) and
// its one-line doc comment from the schema's source. It walks the structs by
// reflection, so a field added to the schema appears without further work; a
// field without a doc comment is an error.
func Reference() ([]byte, error) {
	docs, err := schemaDocs()
	if err != nil {
		return nil, err
	}
	var b, sections bytes.Buffer
	b.WriteString(referenceHeader)
	t, def := reflect.TypeOf(Config{}), reflect.ValueOf(Default())
	var top []refRow
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := yamlKey(f)
		doc, err := docs.field(t.Name(), f.Name)
		if err != nil {
			return nil, err
		}
		ft := f.Type
		if ft.Kind() != reflect.Struct && !(ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct) {
			if doc == "" {
				return nil, undocumented(key, t.Name(), f.Name)
			}
			top = append(top, refRow{key, typeName(ft), defaultText(def.Field(i)), doc})
			continue
		}
		// a section: a struct, or a list of structs whose elements have
		// their fields' zero values as defaults
		path, v := key, def.Field(i)
		if ft.Kind() == reflect.Slice {
			path, ft, v = key+"[i]", ft.Elem(), reflect.New(ft.Elem()).Elem()
		}
		fmt.Fprintf(&sections, "\n## %s\n\n", key)
		if about := docs.types[ft.Name()]; about != "" {
			sections.WriteString(about + "\n\n")
		}
		if doc != "" {
			fmt.Fprintf(&sections, "`%s`: %s.\n\n", path, strings.TrimSuffix(doc, "."))
		}
		var rows []refRow
		if err := docs.rows(&rows, ft, v, path); err != nil {
			return nil, err
		}
		writeTable(&sections, rows)
	}
	if len(top) > 0 {
		b.WriteString("\n## Top-level fields\n\n")
		writeTable(&b, top)
	}
	b.Write(sections.Bytes())
	return b.Bytes(), nil
}

const referenceHeader = `# Config reference

<!-- Generated from configs/schema.go by configs.Reference; do not edit.
     Regenerate: go test ./configs -run TestReferenceDoc -update
     (or: remask config reference > docs/config.md) -->

A run is one YAML file. Every field below can be set there, or overridden on
the command line with ` + "`--set path=value`" + ` (lists, such as ` + "`rewards`" + `, only in
the file). Unknown keys, wrong types and out-of-range values are errors that
name the file, the line and the field. A field left out takes its default; for
many fields 0 or "" means "the preset's, the task's or the algorithm's
default", as its description says. The recipes in ` + "`configs/`" + ` are the
starting points.

Types: ` + "`integer`, `number` (an integer or a decimal), `string`, `boolean`, `list of strings`" + `.
`

type refRow struct{ path, typ, def, doc string }

func writeTable(b *bytes.Buffer, rows []refRow) {
	b.WriteString("| field | type | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", r.path, r.typ, r.def, cell(r.doc))
	}
}

// cell escapes what would end a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// rows appends the fields of struct type t (default value v) under path,
// descending into nested structs.
func (d schemaDoc) rows(rows *[]refRow, t reflect.Type, v reflect.Value, path string) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		p := path + "." + yamlKey(f)
		if f.Type == reflect.TypeOf(Sections{}) {
			if err := sectionRows(rows, path); err != nil {
				return err
			}
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			if err := d.rows(rows, f.Type, v.Field(i), p); err != nil {
				return err
			}
			continue
		}
		doc, err := d.field(t.Name(), f.Name)
		if err != nil {
			return err
		}
		if doc == "" {
			return undocumented(p, t.Name(), f.Name)
		}
		*rows = append(*rows, refRow{p, typeName(f.Type), defaultText(v.Field(i)), doc})
	}
	return nil
}

func undocumented(path, typ, name string) error {
	return fmt.Errorf("configs: field %s (%s.%s) has no doc comment: give it a one-line comment in configs/", path, typ, name)
}

// typeName is a field's type as a YAML file writes it.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "mapping of " + typeName(t.Elem()) + "s"
	case reflect.Pointer:
		return typeName(t.Elem())
	}
	return t.Kind().String()
}

// defaultText is a default value as YAML would write it, in Markdown: code,
// or "absent" for an optional field (a nil pointer) that is not set.
func defaultText(v reflect.Value) string {
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "absent"
		}
		return defaultText(v.Elem())
	}
	return "`" + defaultYAML(v) + "`"
}

func defaultYAML(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return "[]"
		}
	}
	return fmt.Sprint(v.Interface())
}

// schemaDoc holds the comments of the package's struct types, which
// reflection does not carry.
type schemaDoc struct {
	types  map[string]string            // type name -> its doc comment, one paragraph
	fields map[string]map[string]string // type name -> field name -> its comment
}

func (d schemaDoc) field(typ, name string) (string, error) {
	fs, ok := d.fields[typ]
	if !ok {
		return "", fmt.Errorf("configs: type %s is not declared in the package source", typ)
	}
	return fs[name], nil
}

// designRef is a pointer into the team's design document, which is not part
// of the repository; the reference leaves it out.
var designRef = regexp.MustCompile(`\s*\(DESIGN\.md[^)]*\)`)

// schemaDocs parses the package's non-test Go files for the comments of every
// struct type and field: a field's trailing comment, else the comment above it.
func schemaDocs() (schemaDoc, error) {
	d := schemaDoc{types: map[string]string{}, fields: map[string]map[string]string{}}
	names, err := fs.Glob(source, "*.go")
	if err != nil {
		return d, err
	}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := source.ReadFile(name)
		if err != nil {
			return d, err
		}
		file, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			return d, fmt.Errorf("configs: parse %s: %w", name, err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				d.types[ts.Name.Name] = oneLine(doc)
				fields := map[string]string{}
				for _, f := range st.Fields.List {
					c := f.Comment
					if c == nil {
						c = f.Doc
					}
					for _, n := range f.Names {
						fields[n.Name] = oneLine(c)
					}
				}
				d.fields[ts.Name.Name] = fields
			}
		}
	}
	return d, nil
}

// oneLine is a comment's text joined into one line.
func oneLine(c *ast.CommentGroup) string {
	if c == nil {
		return ""
	}
	return strings.TrimSpace(designRef.ReplaceAllString(strings.Join(strings.Fields(c.Text()), " "), ""))
}

// sectionRows are the rows of every registered algorithm's section: its
// fields' doc tags (the section's type lives in the algorithm's package,
// whose comments this package does not read).
func sectionRows(rows *[]refRow, path string) error {
	for _, n := range algos.Names() {
		r, _ := algos.Lookup(n)
		if r.Section == nil {
			continue
		}
		flat := map[string]string{}
		for k, sk := range r.Flat {
			flat[sk] = k
		}
		v := reflect.ValueOf(r.Section()).Elem()
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := path + "." + n + "." + yamlKey(f)
			doc := f.Tag.Get("doc")
			if doc == "" {
				return fmt.Errorf("configs: field %s (%s.%s) has no doc tag", p, t, f.Name)
			}
			doc = n + ": " + doc
			if k, ok := flat[yamlKey(f)]; ok {
				doc += fmt.Sprintf(" (also accepted as %s.%s)", path, k)
			}
			*rows = append(*rows, refRow{p, typeName(f.Type), defaultText(v.Field(i)), doc})
		}
	}
	return nil
}
