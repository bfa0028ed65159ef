package config

import (
	"slices"
	"strings"
)

// The AWS regions stagecoach knows, in one place. A region code that is not in these
// lists is almost always a typo ("us-east-9", "eu-west-12"), which would otherwise
// only fail at deploy time; a region AWS opened after these lists were written is
// accepted once the config names it in extraRegions.
//
// Sources, read on 2026-12-01:
//   - "AWS Regions" and "AWS Region billing codes" (AWS Global Infrastructure, Regions
//     and Zones guide, docs.aws.amazon.com/global-infrastructure/latest/regions/),
//     cross-checked with the partitions of the AWS SDKs' endpoint data (botocore
//     data/endpoints.json, commit 0e6e2404 of 2026-08-07).
//   - "CodeConnections endpoints and quotas" and "AWS CodeStar Connections endpoints
//     and quotas" (AWS General Reference, docs.aws.amazon.com/general/latest/gr/
//     codeconnections.html and codestar_connections.html): the regions with a
//     connections endpoint, where CodePipeline offers the
//     CodeStarSourceConnection source action.
//
// Update both lists when AWS opens a region; TestRegionLists checks their shape.

// KnownRegions are the region codes of every AWS partition stagecoach can deploy to
// (commercial, China, GovCloud and the isolated partitions).
var KnownRegions = []string{
	// aws
	"af-south-1",
	"ap-east-1", "ap-east-2",
	"ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2",
	"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2",
	"eu-north-1",
	"eu-south-1", "eu-south-2",
	"eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1",
	"me-central-1", "me-south-1",
	"mx-central-1",
	"sa-east-1",
	"us-east-1", "us-east-2",
	"us-west-1", "us-west-2",
	// aws-cn
	"cn-north-1", "cn-northwest-1",
	// aws-us-gov
	"us-gov-east-1", "us-gov-west-1",
	// aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
	"us-iso-east-1", "us-iso-west-1",
	"us-isob-east-1", "us-isob-west-1",
	"eu-isoe-west-1",
	"us-isof-east-1", "us-isof-south-1",
}

// ConnectionRegions are the regions with a CodeConnections (formerly CodeStar
// Connections) endpoint. The home region must be one of them: the pipelines'
// source action and the connection they use are called there.
var ConnectionRegions = []string{
	"ap-northeast-1", "ap-northeast-2",
	"ap-south-1",
	"ap-southeast-1", "ap-southeast-2",
	"ca-central-1",
	"eu-central-1",
	"eu-north-1",
	"eu-south-1",
	"eu-west-1", "eu-west-2", "eu-west-3",
	"sa-east-1",
	"us-east-1", "us-east-2",
	"us-west-1", "us-west-2",
	"us-gov-east-1",
}

// knownRegion reports whether r is in KnownRegions or in the config's extraRegions.
func (c *Config) knownRegion(r string) bool {
	return slices.Contains(KnownRegions, r) || slices.Contains(c.ExtraRegions, r)
}

// RegionPartition returns the AWS partition of region r (aws, aws-cn, aws-us-gov or
// an isolated partition), from its prefix as the SDKs' endpoint data defines it.
func RegionPartition(r string) string {
	for _, p := range []struct{ prefix, partition string }{
		{"cn-", "aws-cn"},
		{"us-gov-", "aws-us-gov"},
		{"us-isob-", "aws-iso-b"},
		{"us-isof-", "aws-iso-f"},
		{"us-iso-", "aws-iso"},
		{"eu-isoe-", "aws-iso-e"},
	} {
		if strings.HasPrefix(r, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}
