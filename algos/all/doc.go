// Package all imports every estimator package so that each registers
// itself; whatever needs the full registry (configs, the trainer) imports
// this one list. A new estimator adds its line here.
package all

import (
	_ "github.com/remask/remask/algos/coupledgrpo"
	_ "github.com/remask/remask/algos/diffugrpo"
	_ "github.com/remask/remask/algos/espo"
	_ "github.com/remask/remask/algos/spg"
	_ "github.com/remask/remask/algos/tracerl"
	_ "github.com/remask/remask/algos/unigrpo"
	_ "github.com/remask/remask/algos/wd1"
)
