package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// InstanceShape is what the program needs to know about an EC2 instance type: how much a task
// may use of it and which ECS-optimized AMI it boots.
type InstanceShape struct {
	VCPUs     int
	MemoryMiB int
	Arm64     bool
}

// CPUUnits is the CPU the ECS agent registers for the instance (1024 units per vCPU).
func (s InstanceShape) CPUUnits() int { return s.VCPUs * 1024 }

// TaskMemoryMiB is the memory left for tasks. The kernel, Docker and the ECS agent take their share
// before the agent registers the instance, and ReservedMemoryMiB is held back on top (user data sets
// ECS_RESERVED_MEMORY), so only about 90 % of the nominal size minus that reserve can be relied on.
func (s InstanceShape) TaskMemoryMiB() int { return s.MemoryMiB*9/10 - ReservedMemoryMiB }

// ReservedMemoryMiB is kept free on every instance for the OS and the ECS agent (ECS_RESERVED_MEMORY).
const ReservedMemoryMiB = 256

// instanceTypePattern splits "m7g.2xlarge" into family letter "m", generation "7",
// attributes "g" (Graviton, local disk, network...) and size "2xlarge".
var instanceTypePattern = regexp.MustCompile(`^([a-z])([0-9]+)([a-z-]*)\.([a-z0-9]+)$`)

var multipleXLarge = regexp.MustCompile(`^([0-9]+)xlarge$`)

// gibPerVCPU is the memory ratio of the general purpose, compute and memory optimized families,
// which is what the fit check needs; other families are rejected rather than guessed.
var gibPerVCPU = map[string]int{"c": 2, "m": 4, "r": 8}

// burstable holds the t3, t3a and t4g sizes, whose vCPU and memory do not follow a ratio.
var burstable = map[string]InstanceShape{
	"nano":    {VCPUs: 2, MemoryMiB: 512},
	"micro":   {VCPUs: 2, MemoryMiB: 1024},
	"small":   {VCPUs: 2, MemoryMiB: 2048},
	"medium":  {VCPUs: 2, MemoryMiB: 4096},
	"large":   {VCPUs: 2, MemoryMiB: 8192},
	"xlarge":  {VCPUs: 4, MemoryMiB: 16384},
	"2xlarge": {VCPUs: 8, MemoryMiB: 32768},
}

// vcpusForSize maps "medium", "large", "xlarge" and "<n>xlarge" to vCPUs for the c, m and r families.
func vcpusForSize(size string) (int, bool) {
	switch size {
	case "medium":
		return 1, true
	case "large":
		return 2, true
	case "xlarge":
		return 4, true
	}
	m := multipleXLarge.FindStringSubmatch(size)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 2 || n > 48 {
		return 0, false
	}
	return 4 * n, true
}

// ParseInstanceType returns the shape of a current-generation c, m, r or t (t3, t3a, t4g) instance type.
func ParseInstanceType(instanceType string) (InstanceShape, error) {
	m := instanceTypePattern.FindStringSubmatch(instanceType)
	if m == nil {
		return InstanceShape{}, fmt.Errorf("not an EC2 instance type of the form family.size, e.g. m6i.large")
	}
	family, generation, attributes, size := m[1], m[2], m[3], m[4]
	gen, _ := strconv.Atoi(generation)
	arm := strings.Contains(attributes, "g")

	if family == "t" {
		if gen < 3 {
			return InstanceShape{}, fmt.Errorf("burstable generation %s is not supported; use t3, t3a or t4g", generation)
		}
		shape, ok := burstable[size]
		if !ok {
			return InstanceShape{}, fmt.Errorf("unknown burstable size %q", size)
		}
		shape.Arm64 = arm
		return shape, nil
	}
	ratio, ok := gibPerVCPU[family]
	if !ok {
		return InstanceShape{}, fmt.Errorf("family %q is not supported; use a c, m, r or t family (the capacity check needs its memory)", family)
	}
	if gen < 5 {
		return InstanceShape{}, fmt.Errorf("generation %s is too old; use generation 5 or newer", generation)
	}
	vcpus, ok := vcpusForSize(size)
	if !ok {
		return InstanceShape{}, fmt.Errorf("unknown size %q", size)
	}
	if size == "medium" && !arm {
		return InstanceShape{}, fmt.Errorf("size medium exists only for Graviton types (e.g. %sg)", family+generation)
	}
	return InstanceShape{VCPUs: vcpus, MemoryMiB: vcpus * ratio * 1024, Arm64: arm}, nil
}
