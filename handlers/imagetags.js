// stagecoach: records the image tags around build.yml (see handlers/doc.go).
'use strict';
exports.run = async (api, event) => {
  const job = event['CodePipeline.job'];
  const p = JSON.parse(job.data.actionConfiguration.configuration.UserParameters);
  try {
    const tags = await api.tags(p.repository); // tag -> digest
    if (p.mode === 'snapshot') {
      // "tag=digest,…": no quotes, so the value can be spliced into the JSON of the
      // record step's UserParameters as a pipeline variable.
      const before = ['latest', ...p.stages].map((t) => `${t}=${tags[t] || ''}`).join(',');
      return await api.succeed(job.id, { TAGS: before }, 'tags before the build recorded');
    }
    const before = Object.fromEntries((p.before || '').split(',').filter(Boolean).map((kv) => kv.split('=')));
    const latest = tags.latest;
    if (!latest) throw new Error(`build.yml did not push ${p.repository}:latest. It must leave the image it built tagged :latest.`);
    if (latest === before.latest) throw new Error(`${p.repository}:latest still points to ${latest}, as before this build: build.yml must push the image it built as :latest.`);
    const moved = p.stages.filter((s) => (tags[s] || '') !== (before[s] || ''));
    if (moved.length) throw new Error(`build.yml moved the stage tag(s) ${moved.join(', ')}; stage tags belong to releases. Remove those tags from build.yml.`);
    await api.succeed(job.id, { IMAGE_DIGEST: latest }, `built ${p.repository}@${latest}`);
  } catch (e) {
    await api.fail(job.id, String(e.message || e));
  }
};
exports.handler = async (event) => {
  const ecr = require('@aws-sdk/client-ecr'), cp = require('@aws-sdk/client-codepipeline');
  const e = new ecr.ECRClient({}), c = new cp.CodePipelineClient({});
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
    succeed: (jobId, outputVariables, summary) => c.send(new cp.PutJobSuccessResultCommand({ jobId, outputVariables, executionDetails: { summary } })),
    fail: (jobId, message) => c.send(new cp.PutJobFailureResultCommand({ jobId, failureDetails: { type: 'JobFailed', message: message.slice(0, 5000) } })),
  }, event);
};
