package data

import (
	"fmt"
	"strings"
)

// Example is one task instance.
type Example struct {
	Prompt string         // what the model is conditioned on (after <bos>)
	Answer string         // the target completion for SFT; "" when unknown
	Ref    map[string]any // reference fields the task and the rewards check against
}

// Task knows whether a completion solves an example.
type Task interface {
	Name() string
	// Correct reports whether a decoded completion solves the example (what
	// `remask eval` counts; the reward package scores separately).
	Correct(ex Example, completion string) bool
}

// TaskByName returns sudoku4x4, countdown or text.
func TaskByName(name string) (Task, error) {
	switch name {
	case "sudoku4x4":
		return Sudoku4x4{}, nil
	case "countdown":
		return Countdown{}, nil
	case "text":
		return Text{}, nil
	}
	return nil, fmt.Errorf("unknown task %q (want sudoku4x4, countdown or text)", name)
}

// Text is free text: a completion is correct when it equals the answer,
// both trimmed of surrounding white space.
type Text struct{}

func (Text) Name() string { return "text" }

func (Text) Correct(ex Example, c string) bool {
	return strings.TrimSpace(c) == strings.TrimSpace(ex.Answer)
}
