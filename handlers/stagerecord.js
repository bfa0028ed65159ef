// stagecoach: records and checks what each stage is approved to run (see handlers/doc.go).
'use strict';
const fields = (value) => Object.fromEntries((value || '').split(' ').filter(Boolean).map((kv) => kv.split('=')));
const approved = (value) => {
  const r = fields(value);
  return r.digest ? [r.digest, r.previous || ''] : [''];
};
const want = { authorize: ['repository', 'stage', 'records', 'digest'], verify: ['repository', 'stage', 'records', 'digest'] };
exports.run = async (api, event) => {
  const job = event['CodePipeline.job'];
  try {
    let p;
    try {
      p = JSON.parse(job.data.actionConfiguration.configuration.UserParameters);
    } catch (e) {
      throw new Error(`UserParameters is not JSON (${e.message}); it is set by stagecoach's template`);
    }
    const keys = want[p && p.mode];
    if (!keys) throw new Error(`UserParameters.mode is ${JSON.stringify(p && p.mode)}; want authorize or verify`);
    const bad = keys.filter((k) => !(typeof p[k] === 'string' && p[k]));
    if (bad.length) throw new Error(`UserParameters lacks ${bad.join(', ')} for mode ${p.mode}`);
    if (!/^sha256:[0-9a-f]{64}$/.test(p.digest)) throw new Error(`IMAGE_DIGEST ${JSON.stringify(p.digest)} is not an image digest`);
    const name = `${p.records}/${p.stage}`;
    const tag = `${p.repository}:${p.stage}`;
    if (p.mode === 'authorize') {
      // After the stage's approval, before its release: the tag may now point to
      // this digest, or stay where the last release put it.
      const old = fields(await api.getParam(name));
      let previous = old.digest === p.digest ? old.previous || '' : old.digest;
      // No record yet (a first release, or a stage released before records existed):
      // what the tag points to now is what a failed release goes back to.
      if (!old.digest) previous = (await api.tags(p.repository))[p.stage] || '';
      const value = `digest=${p.digest} previous=${previous} commit=${p.commit || ''} execution=${p.execution || ''}`;
      await api.putParam(name, value);
      return await api.succeed(job.id, {}, `${tag} may now point to ${p.digest}`);
    }
    // verify: after the release, the tag must be on what this execution released.
    const now = (await api.tags(p.repository))[p.stage] || '';
    if (now !== p.digest) {
      const note = approved(await api.getParam(name)).includes(now) ? '' : ' No approval names it: the stage tag guard puts the tag back.';
      throw new Error(`${tag} points to ${now || 'nothing'}, not to ${p.digest}, which this execution released.${note} (A release.yml that retags :PREVIOUS_STAGE_NAME promotes what that tag is on now.)`);
    }
    await api.succeed(job.id, {}, `${tag} is on ${now}`);
  } catch (e) {
    await api.fail(job.id, String(e.message || e));
  }
};
exports.handler = async (event) => {
  const ecr = require('@aws-sdk/client-ecr'), ssm = require('@aws-sdk/client-ssm'), cp = require('@aws-sdk/client-codepipeline');
  const e = new ecr.ECRClient({}), s = new ssm.SSMClient({}), c = new cp.CodePipelineClient({});
  await exports.run({
    tags: async (repositoryName) => {
      const out = {};
      let nextToken;
      do {
        const r = await e.send(new ecr.ListImagesCommand({ repositoryName, nextToken, filter: { tagStatus: 'TAGGED' } }));
        for (const i of r.imageIds || []) if (i.imageTag) out[i.imageTag] = i.imageDigest;
        nextToken = r.nextToken;
      } while (nextToken);
      return out;
    },
    getParam: (Name) => s.send(new ssm.GetParameterCommand({ Name })).then((r) => r.Parameter.Value,
      (err) => { if (err.name === 'ParameterNotFound') return null; throw err; }),
    putParam: (Name, Value) => s.send(new ssm.PutParameterCommand({ Name, Value, Type: 'String', Overwrite: true })),
    succeed: (jobId, outputVariables, summary) => c.send(new cp.PutJobSuccessResultCommand({ jobId, outputVariables, executionDetails: { summary } })),
    fail: (jobId, message) => c.send(new cp.PutJobFailureResultCommand({ jobId, failureDetails: { type: 'JobFailed', message: message.slice(0, 5000) } })),
  }, event);
};
