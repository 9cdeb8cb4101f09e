package data

import (
	"fmt"
	"strings"
)

// Example is one task instance.
type Example struct {
	Prompt string         // what the model is conditioned on (after <bos>, or the user message of a chat template)
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

// TaskByName returns sudoku4x4, countdown, gsm8k, math or text.
func TaskByName(name string) (Task, error) {
	switch name {
	case "sudoku4x4":
		return Sudoku4x4{}, nil
	case "countdown":
		return Countdown{}, nil
	case "gsm8k":
		return GSM8K{}, nil
	case "math":
		return MATH{}, nil
	case "text":
		return Text{}, nil
	}
	return nil, fmt.Errorf("unknown task %q (want sudoku4x4, countdown, gsm8k, math or text)", name)
}

// Text is free text: a completion is correct when it equals the answer,
// both trimmed of surrounding white space.
type Text struct{}

func (Text) Name() string { return "text" }

func (Text) Correct(ex Example, c string) bool {
	return strings.TrimSpace(c) == strings.TrimSpace(ex.Answer)
}

// CheckPrompt reports whether a prompt typed by a user (remask sample) has
// the task's form: sudoku4x4 takes the 16 digits 0-4 of a puzzle (0 =
// empty), countdown "N,N,...>TARGET" with non-negative integers (spaces
// around them allowed). A trailing
// "=" (the prompt/answer separator) is allowed. Text takes anything.
func CheckPrompt(task, prompt string) error {
	p := strings.TrimSuffix(prompt, "=")
	switch task {
	case "sudoku4x4":
		return checkDigits("sudoku prompt", p, '0')
	case "countdown":
		_, _, err := ParseCountdownPrompt(prompt)
		return err
	}
	return nil
}
