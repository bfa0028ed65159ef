package config

// ApplyDefaults fills every field the config leaves out with its documented default,
// so the stacks never need to know a default. Parse calls it; call it yourself before
// Validate on a Config built in Go. It never writes into a map or a Scale or Route
// the caller may share: overrides and pointers are replaced by fresh copies.
func (c *Config) ApplyDefaults() {
	if c.Source.Provider == "" {
		c.Source.Provider = DefaultProvider
	}
	if c.Source.Branch == "" {
		c.Source.Branch = DefaultBranch
	}
	for i := range c.Stages {
		if c.Stages[i].Region == "" {
			c.Stages[i].Region = c.Region
		}
		if c.Stages[i].Images == "" {
			c.Stages[i].Images = DefaultImages
		}
		if c.Stages[i].DeletionProtection == nil {
			// A stage worth an approval is worth a second step before deletion.
			on := c.Stages[i].Approval
			c.Stages[i].DeletionProtection = &on
		}
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.Port == 0 {
			s.Port = DefaultPort
			s.Defaulted = appendNew(s.Defaulted, "port")
		}
		if s.HealthCheck == "" {
			s.HealthCheck = DefaultHealthCheck
			s.Defaulted = appendNew(s.Defaulted, "healthCheck")
		}
		if s.CPU == 0 {
			s.CPU = DefaultCPU
		}
		if s.Memory == 0 {
			s.Memory = DefaultMemory
		}
		if s.Route != nil && s.Route.Priority == 0 {
			r := *s.Route
			r.Priority = DefaultPriority(i)
			s.Route = &r
		}
		rollout := DefaultRollout
		if s.Rollout != nil {
			rollout = fillRollout(*s.Rollout, rollout)
		}
		s.Rollout = &rollout
		scale := Scale{Min: DefaultScaleMin, Max: DefaultScaleMax, CPUTarget: DefaultCPUTarget}
		if s.Scale != nil {
			scale = fillScale(*s.Scale, scale)
		}
		s.Scale = &scale
		if s.Stages != nil {
			stages := make(map[string]StageOverride, len(s.Stages))
			for name, o := range s.Stages {
				if o.Scale != nil {
					sc := fillScale(*o.Scale, scale)
					o.Scale = &sc
				}
				stages[name] = o
			}
			s.Stages = stages
		}
	}
}

// appendNew appends key to keys unless it is there, into a fresh slice: a Service
// copied before ApplyDefaults shares none of its backing array.
func appendNew(keys []string, key string) []string {
	for _, k := range keys {
		if k == key {
			return keys
		}
	}
	return append(keys[:len(keys):len(keys)], key)
}

// DefaultPriority is the listener rule priority of the routed service at index i
// in services when its route sets none: 10, 20, 30… leaves room to insert rules.
func DefaultPriority(i int) int { return 10 * (i + 1) }

// fillScale sets sc's missing fields from base. A missing Max is raised to Min when
// Min is larger, as the service default does: "min: 3" alone means 3 tasks, not an
// error about the inherited maximum.
func fillScale(sc, base Scale) Scale {
	if sc.Min == 0 {
		sc.Min = base.Min
	}
	if sc.Max == 0 {
		sc.Max = max(base.Max, sc.Min)
	}
	if sc.CPUTarget == 0 {
		sc.CPUTarget = base.CPUTarget
	}
	return sc
}

// fillRollout sets r's missing fields from base.
func fillRollout(r, base Rollout) Rollout {
	for _, f := range []struct {
		v *int
		d int
	}{
		{&r.HealthCheckInterval, base.HealthCheckInterval}, {&r.HealthyThreshold, base.HealthyThreshold},
		{&r.UnhealthyThreshold, base.UnhealthyThreshold}, {&r.DeregistrationDelay, base.DeregistrationDelay},
		{&r.GracePeriod, base.GracePeriod}, {&r.StopTimeout, base.StopTimeout},
		{&r.MinHealthyPercent, base.MinHealthyPercent}, {&r.MaxPercent, base.MaxPercent},
	} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	return r
}
