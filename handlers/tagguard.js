// stagecoach: puts back a stage tag that moved without its stage's approval (see handlers/doc.go).
'use strict';
const approved = (value) => {
  const r = Object.fromEntries((value || '').split(' ').filter(Boolean).map((kv) => kv.split('=')));
  return r.digest ? [r.digest, r.previous || ''] : [''];
};
// conf: {repository, records, stages: {STAGE: {cluster, service, region}}}
exports.run = async (api, event, conf) => {
  const d = event.detail || {}, tag = d['image-tag'];
  if (d.result !== 'SUCCESS' || d['repository-name'] !== conf.repository || !conf.stages[tag]) return;
  const name = `${conf.records}/${tag}`;
  // Act on the tag as it is now, not as the event says: events can arrive late and
  // out of order. Tag first, record second (a release records before it moves the tag).
  const now = (await api.tags(conf.repository))[tag] || '';
  let record = await api.getParam(name);
  if (approved(record).includes(now)) return;
  // Read again just before acting, so a release recorded meanwhile is not undone.
  record = await api.getParam(name);
  const ok = approved(record);
  if (ok.includes(now)) return;
  const back = ok[0];
  if (back) await api.putTag(conf.repository, tag, back);
  else await api.deleteTag(conf.repository, tag);
  // The metric filter on this line counts the event; the alarm is on that metric.
  console.log(`UNAPPROVED_STAGE_TAG ${conf.repository}:${tag} was moved to ${now || 'nothing'}, which no approval of ${tag} names; ${back ? `put back on ${back}` : 'removed (the stage was never released)'}`);
  // ECS may have started the unapproved image meanwhile: deploy what the tag says now.
  const s = conf.stages[tag];
  try {
    await api.redeploy(s);
  } catch (e) {
    if (!/ServiceNotFound|ServiceNotActive|ClusterNotFound/.test(e.name)) throw e;
  }
};
exports.handler = async (event) => {
  const conf = JSON.parse(process.env.GUARD);
  const ecr = require('@aws-sdk/client-ecr'), ssm = require('@aws-sdk/client-ssm'), ecs = require('@aws-sdk/client-ecs');
  const e = new ecr.ECRClient({}), s = new ssm.SSMClient({});
  const get = (repositoryName, imageIds) => e.send(new ecr.BatchGetImageCommand({ repositoryName, imageIds,
    acceptedMediaTypes: ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json'] }));
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
    putTag: async (repositoryName, imageTag, imageDigest) => {
      const img = (await get(repositoryName, [{ imageDigest }])).images[0];
      if (!img) throw new Error(`${repositoryName}@${imageDigest} no longer exists`);
      await e.send(new ecr.PutImageCommand({ repositoryName, imageTag, imageDigest, imageManifest: img.imageManifest, imageManifestMediaType: img.imageManifestMediaType }))
        .catch((err) => { if (err.name !== 'ImageAlreadyExistsException') throw err; });
    },
    deleteTag: (repositoryName, imageTag) => e.send(new ecr.BatchDeleteImageCommand({ repositoryName, imageIds: [{ imageTag }] })),
    redeploy: ({ cluster, service, region }) => new ecs.ECSClient({ region }).send(new ecs.UpdateServiceCommand({ cluster, service, forceNewDeployment: true })),
  }, event, conf);
};
