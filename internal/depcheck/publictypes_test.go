package depcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// listed is the part of `go list -export -json` this test reads.
type listed struct {
	ImportPath string
	Export     string
	Name       string
}

// exportData lists every package of the module and its dependencies with the
// compiler's export data, so that go/types can load them without a source
// importer.
func exportData(t *testing.T) (own []listed, files map[string]string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Export,Name", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	files = map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		files[p.ImportPath] = p.Export
		if strings.HasPrefix(p.ImportPath, module) {
			own = append(own, p)
		}
	}
	return own, files
}

// internalPath reports whether path is an internal package of the module.
func internalPath(path string) bool {
	return strings.HasPrefix(path, module+"/") && (strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal"))
}

// leaks returns "object: type" lines for every exported declaration of pkg
// whose type mentions a named type from an internal package: exported
// functions, variables, constants, types (their exported fields, embedded
// fields and interface methods) and the exported methods of exported types.
func leaks(pkg *types.Package) []string {
	var bad []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		check := func(what string, t types.Type) {
			if p := findInternal(t, map[types.Type]bool{}); p != "" {
				bad = append(bad, fmt.Sprintf("%s.%s: %s names %s", pkg.Name(), what, types.TypeString(t, nil), p))
			}
		}
		if tn, ok := obj.(*types.TypeName); ok {
			if a, ok := tn.Type().(*types.Alias); ok {
				check(name, a.Rhs())
				continue
			}
			named, ok := tn.Type().(*types.Named)
			if !ok {
				continue
			}
			check(name, exportedShape(named.Underlying()))
			for m := range named.Methods() {
				if m.Exported() {
					check(name+"."+m.Name(), m.Type())
				}
			}
			continue
		}
		check(name, obj.Type())
	}
	return bad
}

// exportedShape keeps only the parts of a struct a user can name: exported
// and embedded fields. Other types are returned as they are.
func exportedShape(t types.Type) types.Type {
	s, ok := t.(*types.Struct)
	if !ok {
		return t
	}
	var fields []*types.Var
	for f := range s.Fields() {
		if f.Exported() || f.Embedded() {
			fields = append(fields, f)
		}
	}
	return types.NewStruct(fields, nil)
}

// findInternal returns the path of the first internal package whose named
// type t mentions, or "".
func findInternal(t types.Type, seen map[types.Type]bool) string {
	if t == nil || seen[t] {
		return ""
	}
	seen[t] = true
	switch t := t.(type) {
	case *types.Alias:
		if o := t.Obj(); o.Pkg() != nil && internalPath(o.Pkg().Path()) {
			return o.Pkg().Path() + "." + o.Name()
		}
		return findInternal(t.Rhs(), seen)
	case *types.Named:
		if o := t.Obj(); o.Pkg() != nil && internalPath(o.Pkg().Path()) {
			return o.Pkg().Path() + "." + o.Name()
		}
		for a := range t.TypeArgs().Types() {
			if p := findInternal(a, seen); p != "" {
				return p
			}
		}
		return ""
	case *types.Pointer:
		return findInternal(t.Elem(), seen)
	case *types.Slice:
		return findInternal(t.Elem(), seen)
	case *types.Array:
		return findInternal(t.Elem(), seen)
	case *types.Chan:
		return findInternal(t.Elem(), seen)
	case *types.Map:
		if p := findInternal(t.Key(), seen); p != "" {
			return p
		}
		return findInternal(t.Elem(), seen)
	case *types.Signature:
		for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
			for v := range tup.Variables() {
				if p := findInternal(v.Type(), seen); p != "" {
					return p
				}
			}
		}
		return ""
	case *types.Struct:
		for f := range t.Fields() {
			if p := findInternal(f.Type(), seen); p != "" {
				return p
			}
		}
		return ""
	case *types.Interface:
		for m := range t.ExplicitMethods() {
			if m.Exported() {
				if p := findInternal(m.Type(), seen); p != "" {
					return p
				}
			}
		}
		for e := range t.EmbeddedTypes() {
			if p := findInternal(e, seen); p != "" {
				return p
			}
		}
		return ""
	}
	return ""
}

// TestPublicTypesOnly: no exported declaration of a package outside internal/
// names a type from internal/, since no other module could name it.
func TestPublicTypesOnly(t *testing.T) {
	own, files := exportData(t)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := files[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	var bad []string
	checked := 0
	for _, p := range own {
		if internalPath(p.ImportPath) || p.Name == "main" {
			continue
		}
		pkg, err := imp.Import(p.ImportPath)
		if err != nil {
			t.Fatalf("load %s: %v", p.ImportPath, err)
		}
		checked++
		bad = append(bad, leaks(pkg)...)
	}
	if checked < 20 {
		t.Fatalf("checked %d packages; the listing is incomplete", checked)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// TestPublicTypesDetected proves the checker is not vacuous: a package
// declaring an exported function over an internal type is reported.
func TestPublicTypesDetected(t *testing.T) {
	inner := types.NewPackage(module+"/internal/x", "x")
	secret := types.NewNamed(types.NewTypeName(token.NoPos, inner, "Secret", nil), types.Typ[types.Int], nil)
	outer := types.NewPackage(module+"/y", "y")
	param := types.NewParam(token.NoPos, outer, "s", types.NewPointer(secret))
	fn := types.NewFunc(token.NoPos, outer, "Use", types.NewSignatureType(nil, nil, nil, types.NewTuple(param), nil, false))
	outer.Scope().Insert(fn)
	field := types.NewField(token.NoPos, outer, "S", types.NewSlice(secret), false)
	hidden := types.NewField(token.NoPos, outer, "s", secret, false)
	cfg := types.NewNamed(types.NewTypeName(token.NoPos, outer, "Config", nil), types.NewStruct([]*types.Var{field}, nil), nil)
	outer.Scope().Insert(cfg.Obj())
	ok := types.NewNamed(types.NewTypeName(token.NoPos, outer, "Fine", nil), types.NewStruct([]*types.Var{hidden}, nil), nil)
	outer.Scope().Insert(ok.Obj())
	got := leaks(outer)
	if len(got) != 2 {
		t.Fatalf("leaks = %q, want Use and Config reported and Fine not", got)
	}
}
