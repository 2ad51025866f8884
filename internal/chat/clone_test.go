package chat

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fill sets every field of the struct v points to a non-zero value, so
// that a copy that forgets a field shows.
func fill(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("s" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Uint64:
			f.SetUint(uint64(i + 1))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 2, 2))
			f.Index(0).SetString("a")
			f.Index(1).SetString("b")
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
			f.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf(1))
		default:
			t.Fatalf("%s.%s: a %s field: teach fill and the record's clone about it", v.Type(), v.Type().Field(i).Name, f.Kind())
		}
	}
}

// TestRecordClone: a stored record's clone (what a compare-and-set
// starts from instead of the cached value) has every field, and shares
// nothing with the original: changing it leaves the cache alone.
func TestRecordClone(t *testing.T) {
	tests := []struct {
		name   string
		orig   any
		mutate func(c any)
	}{
		{"user", new(userRecord), func(c any) {
			u := c.(*userRecord)
			u.Sessions["k"] = 99
			u.Sessions["other"] = 1
			u.Name = "changed"
		}},
		{"room", new(roomRecord), func(c any) {
			r := c.(*roomRecord)
			r.Members[0] = "changed"
			r.Name = "changed"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fill(t, reflect.ValueOf(tt.orig).Elem())
			var c any
			switch o := tt.orig.(type) {
			case *userRecord:
				c = o.clone()
			case *roomRecord:
				c = o.clone()
			}
			if !reflect.DeepEqual(c, tt.orig) {
				t.Fatalf("clone %+v, want %+v", c, tt.orig)
			}
			before, err := json.Marshal(tt.orig)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := json.Marshal(c); string(after) != string(before) {
				t.Fatalf("clone encodes as %s, the original as %s", after, before)
			}
			tt.mutate(c)
			if now, _ := json.Marshal(tt.orig); string(now) != string(before) {
				t.Errorf("changing the clone changed the original: %s, was %s", now, before)
			}
		})
	}
	if (&roomRecord{}).clone().Members != nil {
		t.Error("a room without members cloned to a non-nil list")
	}
}
