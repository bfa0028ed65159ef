// stagecoach: the DesiredCount of a stage's ECS service (see handlers/doc.go).
'use strict';
exports.count = async (api, event) => {
  const p = event.ResourceProperties;
  const min = Number(p.Min);
  if (event.RequestType === 'Update') {
    const current = await api.desiredCount(p.Cluster, p.Service);
    if (current !== undefined) return current;
  }
  // A new service: start it only if the stage's image has been released.
  return (await api.tagExists(p.RepositoryRegion, p.Repository, p.Tag)) ? min : 0;
};
exports.run = async (api, event) => {
  const res = {
    StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId,
    PhysicalResourceId: `${event.ResourceProperties.Cluster}/${event.ResourceProperties.Service}`,
    Status: 'SUCCESS', Data: {},
  };
  try {
    if (event.RequestType !== 'Delete') res.Data.DesiredCount = String(await exports.count(api, event));
  } catch (e) {
    res.Status = 'FAILED';
    res.Reason = String(e.message || e).slice(0, 1000);
  }
  await api.respond(event.ResponseURL, JSON.stringify(res));
};
exports.handler = async (event) => {
  const ecs = require('@aws-sdk/client-ecs'), ecr = require('@aws-sdk/client-ecr');
  await exports.run({
    desiredCount: async (cluster, service) => {
      const r = await new ecs.ECSClient({}).send(new ecs.DescribeServicesCommand({ cluster, services: [service] }));
      const s = (r.services || []).find((x) => x.status === 'ACTIVE');
      return s ? s.desiredCount : undefined;
    },
    tagExists: async (region, repositoryName, imageTag) => {
      try {
        await new ecr.ECRClient({ region }).send(new ecr.DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag }] }));
        return true;
      } catch (e) {
        if (e.name === 'ImageNotFoundException' || e.name === 'RepositoryNotFoundException') return false;
        throw e;
      }
    },
    respond: (url, body) => new Promise((resolve, reject) => {
      const req = require('https').request(url, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } }, (r) => { r.resume(); r.on('end', resolve); });
      req.on('error', reject);
      req.end(body);
    }),
  }, event);
};
