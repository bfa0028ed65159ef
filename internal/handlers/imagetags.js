// stagecoach: records the image tags around build.yml (see handlers/doc.go).
'use strict';
// The digests a stage record lets its tag point to ('' = no tag).
const approved = (v) => {
  const r = Object.fromEntries((v || '').split(' ').map((kv) => kv.split('=')));
  return !r.digest ? [''] : r.state === 'released' ? [r.digest] : [r.digest, r.previous || ''];
};
const want = { snapshot: ['repository', 'stages'], record: ['repository', 'stages', 'records'] };
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
    if (!keys) throw new Error(`UserParameters.mode is ${JSON.stringify(p && p.mode)}; want snapshot or record`);
    const bad = keys.filter((k) => !(k === 'stages' ? Array.isArray(p[k]) && p[k].length : typeof p[k] === 'string' && p[k]));
    if (bad.length) throw new Error(`UserParameters lacks ${bad.join(', ')} for mode ${p.mode}`);
    // Tags first, then records: a release is recorded before its tag moves.
    const tags = await api.tags(p.repository); // tag -> digest
    if (p.mode === 'snapshot') {
      // "tag=digest,…": no quotes, so it can be spliced into the JSON of ImageDigest's
      // UserParameters as a pipeline variable.
      const before = ['latest', ...p.stages].map((t) => `${t}=${tags[t] || ''}`).join(',');
      return await api.succeed(job.id, { TAGS: before }, 'tags before the build recorded');
    }
    const before = Object.fromEntries((p.before || '').split(',').filter(Boolean).map((kv) => kv.split('=')));
    const latest = tags.latest;
    if (!latest) throw new Error(`build.yml did not push ${p.repository}:latest. It must leave the image it built tagged :latest.`);
    if (latest === before.latest) throw new Error(`${p.repository}:latest still points to ${latest}, as before this build: build.yml must push the image it built as :latest.`);
    // A stage tag moved during the build to where no approval of its stage put it:
    // other executions release meanwhile, that is fine.
    const moved = [];
    for (const s of p.stages) {
      const now = tags[s] || '';
      if (now !== (before[s] || '') && !approved(await api.getParam(`${p.records}/${s}`)).includes(now)) moved.push(s);
    }
    if (moved.length) throw new Error(`build.yml moved the stage tag(s) ${moved.join(', ')}, or another execution's release did (the stage-tag guard puts them back). Stage tags belong to releases: remove them from build.yml, then retry.`);
    await api.succeed(job.id, { IMAGE_DIGEST: latest }, `built ${p.repository}@${latest}`);
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
    succeed: (jobId, outputVariables, summary) => c.send(new cp.PutJobSuccessResultCommand({ jobId, outputVariables, executionDetails: { summary } })),
    fail: (jobId, message) => c.send(new cp.PutJobFailureResultCommand({ jobId, failureDetails: { type: 'JobFailed', message: message.slice(0, 5000) } })),
  }, event);
};
