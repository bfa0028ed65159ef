# stagecoach: the two commands are `make synth` and `make test`.
# Everything runs offline against no AWS account: no lookups, no telemetry.
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
# Node 20 runs aws-cdk-lib here; jsii's end-of-life banner would drown the output.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

CDK := node_modules/.bin/cdk

.PHONY: synth test deps rollout bench clean

## synth: synthesize the default example (stagecoach.yaml) into cdk.out
synth: $(CDK)
	$(CDK) synth --quiet

## test: run every test (config, constructs, golden templates, buildspec rehearsals)
test: deps
	go test ./...

## rollout: print the modelled rollout time of every service (after a synth)
rollout: synth
	go run ./cmd/rollouttime cdk.out

## bench: synth time and memory for 1x3, 3x4 and 10x4 (services x stages) configs
bench: $(CDK)
	go run ./cmd/synthbench

## deps: install the pinned CDK CLI and download Go modules
deps: $(CDK)
	go mod download

# The CLI version is pinned in package.json and package-lock.json.
$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

clean:
	rm -rf cdk.out

## diff: report how the templates differ from those of BASE (any git revision,
## default origin/main): Markdown in cdk.out/diff.md (and diff-comment.md, cut to fit
## a pull-request comment), also printed. Exits 0 whatever the differences.
BASE ?= origin/main
# BASE is data, never code: its text as given (make does not expand it), passed to
# the recipe in the environment and from there as one argument, so no quote, $( or
# backquote in it reaches make or the shell. cmd/cdkdiff checks it is a commit.
override BASE := $(value BASE)
export BASE
.PHONY: diff
diff: $(CDK)
	go run ./cmd/cdkdiff -base "$$BASE" -out cdk.out

## check-buildspec: report what in a build.yml or release.yml will not work here, with
## line numbers and the fix: make check-buildspec FILE=path/to/release.yml
## [CONFIG=stagecoach.yaml] [SERVICE=web] [KIND=build|release]
.PHONY: check-buildspec
check-buildspec:
	@test -n '$(FILE)' || { echo 'usage: make check-buildspec FILE=path/to/build.yml [CONFIG=…] [SERVICE=…] [KIND=build|release]'; exit 2; }
	go run ./cmd/checkbuildspec $(if $(CONFIG),-config '$(CONFIG)') $(if $(SERVICE),-service '$(SERVICE)') $(if $(KIND),-kind '$(KIND)') '$(FILE)'
