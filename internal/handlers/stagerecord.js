// stagecoach: records and checks what each stage is approved to run (see handlers/doc.go).
'use strict';
const fields = (v) => Object.fromEntries((v || '').split(' ').filter(Boolean).map((kv) => kv.split('=')));
// The digests a record lets the stage tag point to ('' = no tag).
const approved = (v) => {
  const r = fields(v);
  return !r.digest ? [''] : r.state === 'released' ? [r.digest] : [r.digest, r.previous || ''];
};
exports.run = async (api, event) => {
  const job = event['CodePipeline.job'];
  try {
    let p;
    try {
      p = JSON.parse(job.data.actionConfiguration.configuration.UserParameters);
    } catch (e) {
      throw new Error(`UserParameters is not JSON (${e.message}); it is set by stagecoach's template`);
    }
    if (!['authorize', 'verify'].includes(p && p.mode)) throw new Error(`UserParameters.mode is ${JSON.stringify(p && p.mode)}; want authorize or verify`);
    const bad = ['repository', 'stage', 'records', 'digest'].filter((k) => !(typeof p[k] === 'string' && p[k]));
    if (bad.length) throw new Error(`UserParameters lacks ${bad.join(', ')} for mode ${p.mode}`);
    if (!/^sha256:[0-9a-f]{64}$/.test(p.digest)) throw new Error(`IMAGE_DIGEST ${JSON.stringify(p.digest)} is not an image digest`);
    const name = `${p.records}/${p.stage}`, tag = `${p.repository}:${p.stage}`;
    const value = await api.getParam(name), old = fields(value);
    const now = (await api.tags(p.repository))[p.stage] || '';
    const put = (previous, state) => api.putParam(name, `digest=${p.digest} previous=${previous} commit=${p.commit || ''} execution=${p.execution || ''} state=${state}`);
    if (p.mode === 'authorize') {
      // After the approval, before the release: the tag may point to this digest or
      // stay where an approval put it. A re-run keeps its way back; a first record
      // adopts the tag.
      await put(old.digest === p.digest ? old.previous || '' : !old.digest || approved(value).includes(now) ? now : old.digest, 'releasing');
      return await api.succeed(job.id, {}, `${tag} may now point to ${p.digest}`);
    }
    // verify: the tag must be on what this execution released; now only that counts.
    if (now !== p.digest || old.digest !== p.digest) {
      const note = approved(value).includes(now) ? '' : ' No approval names it: the stage-tag guard puts the tag back.';
      throw new Error(`${tag} points to ${now || 'nothing'}, not to ${p.digest}, which this execution released.${note} (The seed's release.yml promotes what :PREVIOUS_STAGE_NAME is on now.) Retry all the stage's actions.`);
    }
    await put(old.previous || '', 'released');
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
