package config

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/wxqr/wxqr/internal/redisinfo"
)

// noEviction is the only maxmemory-policy wxqr runs on.
const noEviction = "noeviction"

// EvictionError says the Redis server may evict keys.
type EvictionError struct {
	Policy string // the server's maxmemory-policy
}

func (e *EvictionError) Error() string {
	return fmt.Sprintf("maxmemory-policy is %s: Redis may evict keys when memory runs short, and an evicted "+
		"per-code lock or staged result makes wxqr pay WeChat for the same code again; set maxmemory-policy %s "+
		"(CONFIG SET maxmemory-policy %s and in redis.conf, or in the managed service's parameters)",
		e.Policy, noEviction, noEviction)
}

// CheckNoEviction returns an *EvictionError unless rdb's server has
// maxmemory-policy noeviction. It reads CONFIG GET maxmemory-policy, or,
// where CONFIG is disabled or denied (as on several managed offerings),
// INFO memory's maxmemory_policy. When neither answers, it logs a warning
// and returns nil: the policy cannot be known, and refusing to start would
// lock out servers that are set up well.
func CheckNoEviction(ctx context.Context, rdb redis.UniversalClient, log zerolog.Logger) error {
	policy, configErr := configPolicy(ctx, rdb)
	if configErr != nil {
		var infoErr error
		if policy, infoErr = infoPolicy(ctx, rdb); infoErr != nil {
			log.Warn().AnErr("config_error", configErr).AnErr("info_error", infoErr).
				Msg("cannot read Redis's maxmemory-policy: make sure it is noeviction, or an evicted lock or staged result is paid for again")
			return nil
		}
	}
	if policy != noEviction {
		return &EvictionError{Policy: policy}
	}
	return nil
}

func configPolicy(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	values, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return "", err
	}
	policy, ok := values["maxmemory-policy"]
	if !ok {
		return "", fmt.Errorf("CONFIG GET maxmemory-policy: no value")
	}
	return policy, nil
}

func infoPolicy(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return "", err
	}
	if v, ok := redisinfo.Parse(info)["maxmemory_policy"]; ok {
		return v, nil
	}
	return "", fmt.Errorf("INFO memory: no maxmemory_policy")
}
