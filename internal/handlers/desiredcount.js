// stagecoach: the DesiredCount of a stage's ECS service (see handlers/doc.go).
'use strict';
// count answers CloudFormation: the service's DesiredCount and its scalable target's
// MinCapacity. Until the stage's tag exists both are 0, so no deploy waits on tasks
// that cannot pull their image; a service already running keeps its count.
exports.count = async (api, p, update) => {
  const min = Number(p.Min);
  const s = update ? await api.service(p.Cluster, p.Service) : undefined;
  if (!(await api.tagExists(p.RepositoryRegion, p.Repository, p.Tag))) {
    if (s && s.runningCount > 0) return { DesiredCount: s.desiredCount, MinCapacity: min };
    return { DesiredCount: 0, MinCapacity: 0 };
  }
  return { DesiredCount: s ? Math.max(s.desiredCount, min) : min, MinCapacity: min };
};
// start runs on each deployment of the service (an EventBridge rule): once the stage
// has been released, a service still at 0 gets its minimum, which Application Auto
// Scaling applies at once.
exports.start = async (api, p) => {
  const s = await api.service(p.Cluster, p.Service);
  if (!s || s.desiredCount > 0) return 'running';
  if (!(await api.tagExists(p.RepositoryRegion, p.Repository, p.Tag))) return 'not released';
  await api.registerScalableTarget(p.Cluster, p.Service, Number(p.Min));
  return `started at ${p.Min}`;
};
exports.run = async (api, event) => {
  if (!event.RequestType) return console.log(await exports.start(api, event.Start));
  const p = event.ResourceProperties;
  const res = {
    StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId,
    PhysicalResourceId: `${p.Cluster}/${p.Service}`, Status: 'SUCCESS', Data: {},
  };
  try {
    if (event.RequestType !== 'Delete') {
      const c = await exports.count(api, p, event.RequestType === 'Update');
      res.Data = { DesiredCount: String(c.DesiredCount), MinCapacity: String(c.MinCapacity) };
    }
  } catch (e) {
    res.Status = 'FAILED';
    res.Reason = String(e.message || e).slice(0, 1000);
  }
  await api.respond(event.ResponseURL, JSON.stringify(res));
};
exports.handler = async (event) => {
  const ecs = require('@aws-sdk/client-ecs'), ecr = require('@aws-sdk/client-ecr');
  const aas = require('@aws-sdk/client-application-auto-scaling');
  await exports.run({
    service: async (cluster, service) => {
      const r = await new ecs.ECSClient({}).send(new ecs.DescribeServicesCommand({ cluster, services: [service] }));
      return (r.services || []).find((x) => x.status === 'ACTIVE');
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
    registerScalableTarget: (cluster, service, MinCapacity) => new aas.ApplicationAutoScalingClient({}).send(new aas.RegisterScalableTargetCommand({
      ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: `service/${cluster}/${service}`, MinCapacity,
    })),
    respond: (url, body) => new Promise((resolve, reject) => {
      const req = require('https').request(url, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } }, (r) => { r.resume(); r.on('end', resolve); });
      req.on('error', reject);
      req.end(body);
    }),
  }, event);
};
