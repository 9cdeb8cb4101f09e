package hftok

import (
	"encoding/json"
	"fmt"
	"strings"
)

// postProcessor adds the special tokens of a single sequence (the only
// part of post-processing that changes ids).
type postProcessor interface {
	single(ids []int) []int
}

func parsePostProcessor(raw json.RawMessage, where string) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		// Only trims offsets.
		return nil, nil
	case "TemplateProcessing":
		return parseTemplate(raw, where)
	case "BertProcessing", "RobertaProcessing":
		var j struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		var cls, sep int
		if err := json.Unmarshal(j.Cls[1], &cls); err != nil {
			return nil, fmt.Errorf("%s.cls: expected [token, id]", where)
		}
		if err := json.Unmarshal(j.Sep[1], &sep); err != nil {
			return nil, fmt.Errorf("%s.sep: expected [token, id]", where)
		}
		return &templateProcessing{pieces: []templatePiece{{special: []int{cls}}, {seq: true}, {special: []int{sep}}}}, nil
	case "Sequence":
		var j struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, jsonError(raw, where, err)
		}
		var seq seqPost
		for i, sub := range j.Processors {
			p, err := parsePostProcessor(sub, fmt.Sprintf("%s.processors[%d]", where, i))
			if err != nil {
				return nil, err
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		if len(seq) == 0 {
			return nil, nil
		}
		return seq, nil
	}
	return nil, fmt.Errorf("%s: unsupported post-processor type %q (supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence)", where, typ)
}

type seqPost []postProcessor

func (q seqPost) single(ids []int) []int {
	for _, p := range q {
		ids = p.single(ids)
	}
	return ids
}

type templatePiece struct {
	seq     bool  // the sequence itself ($A)
	special []int // the ids of a special token
}

type templateProcessing struct{ pieces []templatePiece }

func (t *templateProcessing) single(ids []int) []int {
	var out []int
	for _, p := range t.pieces {
		if p.seq {
			out = append(out, ids...)
		} else {
			out = append(out, p.special...)
		}
	}
	return out
}

func parseTemplate(raw json.RawMessage, where string) (postProcessor, error) {
	var j struct {
		Single        []json.RawMessage `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, jsonError(raw, where, err)
	}
	t := &templateProcessing{}
	for i, item := range j.Single {
		w := fmt.Sprintf("%s.single[%d]", where, i)
		var obj struct {
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		}
		var str string
		var special string
		if err := json.Unmarshal(item, &str); err == nil {
			// The string form: "$A", "$0", "[CLS]", "[CLS]:1".
			if strings.HasPrefix(str, "$") {
				t.pieces = append(t.pieces, templatePiece{seq: true})
				continue
			}
			special, _, _ = strings.Cut(str, ":")
		} else if err := json.Unmarshal(item, &obj); err == nil && obj.Sequence != nil {
			t.pieces = append(t.pieces, templatePiece{seq: true})
			continue
		} else if err == nil && obj.SpecialToken != nil {
			special = obj.SpecialToken.ID
		} else {
			return nil, fmt.Errorf("%s: expected a Sequence or a SpecialToken, found %s", w, abbreviate(string(item)))
		}
		st, ok := j.SpecialTokens[special]
		if !ok {
			return nil, fmt.Errorf("%s: special token %q is not in special_tokens", w, special)
		}
		t.pieces = append(t.pieces, templatePiece{special: st.IDs})
	}
	return t, nil
}
