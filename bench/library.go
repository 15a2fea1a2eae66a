package main

import "os"

// libraryDir is the detection library, from the repository's root (where
// make bench runs).
const libraryDir = "policies/library"

// libraryCost times the exec storm and the open/close loop with the whole
// detection library loaded, against no agent and the agent tracking execs
// alone, configurations alternating.
func libraryCost(r *report, o options) error {
	dir, target, err := scratchFile()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	storm := func() (float64, error) { return stormOf(o.execs, "/bin/true") }
	opens := func() (float64, error) { return openLoop(target, o.opens) }
	library := []string{"--tracing-policy-dir", libraryDir}
	configs := []config{
		{"exec storm, no agent", storm},
		{"exec storm, vigil (exec tracking)", func() (float64, error) { return underAgent(o.bin, nil, storm) }},
		{"exec storm, vigil with the library", func() (float64, error) { return underAgent(o.bin, library, storm) }},
		{"open/close, no agent", opens},
		{"open/close, vigil (exec tracking)", func() (float64, error) { return underAgent(o.bin, nil, opens) }},
		{"open/close, vigil with the library", func() (float64, error) { return underAgent(o.bin, library, opens) }},
	}
	times, err := alternate(o.rounds, configs)
	if err != nil {
		return err
	}
	r.printf("## The detection library (%s, all loaded): exec storm (%d execs) and open/close loop (%d), %d rounds\n\n",
		libraryDir, o.execs, o.opens, o.rounds)
	r.table(configs, times, []int{0, 0, 0, 3, 3, 3})
	r.printf("\n")
	return nil
}
