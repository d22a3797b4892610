package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTicks = 100

// cpuSplit is where the CPU time of a measured run went: the server process, every
// PostgreSQL process of the cluster, and the bench's own clients.
type cpuSplit struct{ server, postgres, clients, machine float64 }

// statFields reads the fields of /proc/PID/stat after the command name (which is in
// parentheses and may hold spaces): f[0] is field 3, the state; nil when it is gone.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
}

// cpuOf is a process's CPU seconds from its stat fields; with children, those of its
// reaped children too (PostgreSQL backends that ended are added to the postmaster's).
func cpuOf(f []string, children bool) float64 {
	if f == nil {
		return 0
	}
	ticks := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v }
	// utime is field 14, stime 15, cutime 16, cstime 17.
	t := ticks(11) + ticks(12)
	if children {
		t += ticks(13) + ticks(14)
	}
	return t / clockTicks
}

func procCPU(pid int, children bool) float64 { return cpuOf(statFields(pid), children) }

// postgresCPU sums the CPU seconds of the postmaster, its live children and its
// reaped ones.
func postgresCPU(p *postgres) float64 {
	b, err := os.ReadFile(filepath.Join(p.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	master, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	total := procCPU(master, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(pid); f != nil {
			if ppid, _ := strconv.Atoi(f[1]); ppid == master {
				total += cpuOf(f, false)
			}
		}
	}
	return total
}

// machineCPU is the busy time of every CPU of the machine (/proc/stat), so what other
// processes took during a run shows: the machine is shared.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 7 { // guest time is already in user
			break
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTicks
}

func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// cpuNow samples the three shares; the difference of two samples is a run's split.
func cpuNow(p *postgres, serverPID int) cpuSplit {
	return cpuSplit{server: procCPU(serverPID, false), postgres: postgresCPU(p), clients: selfCPU(), machine: machineCPU()}
}

func (c cpuSplit) since(before cpuSplit) cpuSplit {
	return cpuSplit{c.server - before.server, c.postgres - before.postgres, c.clients - before.clients, c.machine - before.machine}
}

func (c cpuSplit) String() string {
	total := c.server + c.postgres + c.clients
	if total == 0 {
		return "n/a"
	}
	return fmt.Sprintf("server %.1f s (%.0f%%), PostgreSQL %.1f s (%.0f%%), bench clients %.1f s (%.0f%%); other processes %.1f s",
		c.server, 100*c.server/total, c.postgres, 100*c.postgres/total, c.clients, 100*c.clients/total, max(0, c.machine-total))
}

// profileServer saves a CPU profile of the server (BENCH_PPROF is its pprof address)
// for the first seconds of a run, into BENCH_PROFILE_DIR or the working directory.
func profileServer(name string, seconds int) {
	addr := os.Getenv("BENCH_PPROF")
	if addr == "" {
		return
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer resp.Body.Close()
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		dir = "."
	}
	f, err := os.Create(filepath.Join(dir, "cpu-"+name+".pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// cpuByCommand sums the CPU seconds of the machine's live processes by command name
// (postgres, nginx, sightline), with the postmasters' reaped backends; the bench's own
// clients are "bench".
func cpuByCommand() map[string]float64 {
	out := map[string]float64{"bench": selfCPU()}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		name := s[open+1 : end]
		f := strings.Fields(s[end+2:])
		ppid, _ := strconv.Atoi(f[1])
		postmaster := name == "postgres" && !isPostgres(ppid) // its ended backends count too
		out[name] += cpuOf(f, postmaster)
	}
	return out
}

// isPostgres tells whether pid is a postgres process (a backend's parent is its postmaster).
func isPostgres(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == "postgres"
}

// cpuSpent formats where CPU went between two cpuByCommand samples.
func cpuSpent(before, after map[string]float64) string {
	var parts []string
	for _, name := range []string{"sightline", "postgres", "nginx", "bench"} {
		if d := after[name] - before[name]; d > 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.1f s", name, d))
		}
	}
	return strings.Join(parts, ", ")
}
