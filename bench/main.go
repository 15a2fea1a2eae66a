// Command bench measures Vigil's cost side by side with a run without the
// agent, alternating the two in the same run, and prints a table.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	rounds := flag.Int("rounds", 3, "rounds of each configuration")
	execs := flag.Int("execs", 20000, "fork+exec of /bin/true per storm")
	bin := flag.String("vigil", "bin/vigil", "vigil binary")
	opens := flag.Int("opens", 1000000, "open+close of a file per syscall loop")
	flag.Parse()
	if err := execStorm(*bin, *rounds, *execs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if err := syscallLoops(*bin, *rounds, *opens); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// execStorm times a storm of execs without and with the agent running.
func execStorm(bin string, rounds, execs int) error {
	var base, with []float64
	fmt.Printf("## Exec storm: fork+exec of /bin/true, %d times\n\n", execs)
	fmt.Println("| round | no agent (s) | vigil agent (s) | ratio |")
	fmt.Println("|---|---|---|---|")
	for r := 0; r < rounds; r++ {
		var b, w float64
		var err error
		// alternate which configuration runs first
		if r%2 == 0 {
			b, err = storm(execs)
			if err == nil {
				w, err = withAgent(bin, execs)
			}
		} else {
			w, err = withAgent(bin, execs)
			if err == nil {
				b, err = storm(execs)
			}
		}
		if err != nil {
			return err
		}
		base, with = append(base, b), append(with, w)
		fmt.Printf("| %d | %.2f | %.2f | %.3f |\n", r+1, b, w, w/b)
	}
	ratios := make([]float64, rounds)
	for i := range base {
		ratios[i] = with[i] / base[i]
	}
	sort.Float64s(ratios)
	fmt.Printf("\nexec storm overhead: median %+.1f%% (rounds from %+.1f%% to %+.1f%%), %.0f execs/s without the agent\n\n",
		100*(median(with)/median(base)-1), 100*(ratios[0]-1), 100*(ratios[len(ratios)-1]-1), float64(execs)/median(base))
	return nil
}

func storm(n int) (float64, error) {
	start := time.Now()
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt "$0" ]; do /bin/true; i=$((i+1)); done`, strconv.Itoa(n))
	err := cmd.Run()
	return time.Since(start).Seconds(), err
}

// withAgent runs a storm while `vigil agent` writes every event to
// /dev/null through its stdout exporter.
func withAgent(bin string, n int) (float64, error) {
	return underAgent(bin, nil, func() (float64, error) { return storm(n) })
}

// underAgent runs work while `vigil agent` runs with args, its events going
// to /dev/null.
func underAgent(bin string, args []string, work func() (float64, error)) (float64, error) {
	agent := exec.Command(bin, append([]string{"agent"}, args...)...)
	stderr, err := agent.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := agent.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		_ = agent.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "snapshot of running processes done") {
			break
		}
	}
	go func() { // keep draining the agent's log
		for sc.Scan() {
		}
	}()
	return work()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
