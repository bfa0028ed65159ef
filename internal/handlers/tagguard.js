// stagecoach: puts back a stage tag that moved without its stage's approval (see handlers/doc.go).
'use strict';
const fields = (v) => Object.fromEntries((v || '').split(' ').filter(Boolean).map((kv) => kv.split('=')));
// The digests a record lets the tag point to ('' = no tag).
const approved = (v) => {
  const r = fields(v);
  return !r.digest ? [''] : r.state === 'released' ? [r.digest] : [r.digest, r.previous || ''];
};
// conf: {repository, records, stages: {STAGE: {cluster, service, region}}}
exports.run = async (api, event, conf) => {
  const d = event.detail || {}, tag = d['image-tag'];
  if (d.result !== 'SUCCESS' || d['repository-name'] !== conf.repository || !conf.stages[tag]) return;
  const name = `${conf.records}/${tag}`;
  // Act on the tag as it is now: events can come late and out of order. Tag first,
  // record second (a release is recorded before it moves the tag).
  const now = (await api.tags(conf.repository))[tag] || '';
  let record = await api.getParam(name);
  if (approved(record).includes(now)) return;
  // Read again just before acting, so a release recorded meanwhile is not undone.
  record = await api.getParam(name);
  const ok = approved(record);
  if (ok.includes(now)) return;
  // Back to the last image the stage completed a release with: while a release is
  // under way, where it started from (it fails if the tag moved under it).
  const r = fields(record), back = r.state === 'released' ? r.digest : r.previous || '';
  if (back) await api.putTag(conf.repository, tag, back);
  else await api.deleteTag(conf.repository, tag);
  // The metric filter on this line counts the event; the alarm is on that metric.
  console.log(`UNAPPROVED_STAGE_TAG ${conf.repository}:${tag} was moved to ${now || 'nothing'}, which no approval of ${tag} names; ${back ? `put back on ${back}` : 'removed (no release of it has completed)'}`);
  // ECS may have started the unapproved image meanwhile.
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
    acceptedMediaTypes: ['docker.distribution.manifest.v2', 'docker.distribution.manifest.list.v2', 'oci.image.manifest.v1', 'oci.image.index.v1'].map((t) => `application/vnd.${t}+json`) }));
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
