import { toJsonSchema } from '@valibot/to-json-schema'
import type * as v from 'valibot'
import { JobListSchema, JobRequestSchema, JobSchema, PieceReportSchema, ProblemSchema, StatsSchema } from './schemas.js'

const schema = (s: v.GenericSchema) => {
  // OpenAPI 3.1 takes JSON Schema 2020-12; pipes valibot cannot express (a transform) are left out
  const { $schema: _, ...rest } = toJsonSchema(s, { target: 'draft-2020-12', errorMode: 'ignore' }) as Record<
    string,
    unknown
  >
  return rest
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const json = (name: string, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
})
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
})
const sse = (description: string) => ({ description, content: { 'text/event-stream': { schema: { type: 'string' } } } })
const jobId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } }
const bearer = [{ bearer: [] }]

/** The OpenAPI 3.1 document of `peercompute serve`'s job API, its schemas made from the valibot ones. */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'PeerCompute job API',
      version,
      description:
        'Jobs on a PeerCompute mesh, served by `peercompute serve`. Writes need the relay token as `Authorization: Bearer <token>`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        JobRequest: schema(JobRequestSchema),
        Job: schema(JobSchema),
        JobList: schema(JobListSchema),
        PieceReport: schema(PieceReportSchema),
        Problem: schema(ProblemSchema),
        Stats: schema(StatsSchema),
      },
    },
    paths: {
      '/api/jobs': {
        post: {
          summary: 'Submit a job',
          security: bearer,
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description: 'A retry with the same key and body gives the same job (200); another body gives 409',
              schema: { type: 'string', maxLength: 200 },
            },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: ref('JobRequest') } } },
          responses: {
            '201': json('Job', 'The job, accepted (Location: /api/jobs/{id})'),
            '200': json('Job', 'The job an earlier request with this Idempotency-Key made'),
            '400': problem('The body is not a valid job request'),
            '401': problem('No token, or a wrong one'),
            '409': problem('The Idempotency-Key was used with another body'),
            '413': problem('The body is over the size limit'),
            '429': problem('Too many jobs waiting'),
          },
        },
        get: {
          summary: 'List jobs, newest first',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' }, description: '`next` of the previous page' },
          ],
          responses: { '200': json('JobList', 'A page of jobs (without pieces)'), '400': problem('A bad query') },
        },
      },
      '/api/jobs/{id}': {
        get: {
          summary: 'One job, with its pieces',
          parameters: [jobId],
          responses: { '200': json('Job', 'The job'), '404': problem('No such job') },
        },
        delete: {
          summary: 'Cancel a job (its running pieces are cancelled on their peers)',
          security: bearer,
          parameters: [jobId],
          responses: {
            '200': json('Job', 'The job: cancelled, or as it was if it had finished already'),
            '401': problem('No token, or a wrong one'),
            '404': problem('No such job'),
          },
        },
      },
      '/api/jobs/{id}/events': {
        get: {
          summary: "A job's events",
          description:
            'Server-sent events: `progress` {done,total,pieces}, `piece` PieceReport, then `done` Job (any final state), after which the stream ends. The current state comes first.',
          parameters: [jobId],
          responses: {
            '200': sse('The event stream'),
            '404': problem('No such job'),
            '503': problem('Too many streams'),
          },
        },
      },
      '/api/events': {
        get: {
          summary: 'Every job, for dashboards',
          description:
            'Server-sent events: `job` Job (without pieces) when a job is created, progresses (at most 4/s per job) or ends; `stats` Stats every second.',
          responses: { '200': sse('The event stream'), '503': problem('Too many streams') },
        },
      },
      '/api/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics: jobs, pieces, bytes, cost',
          responses: { '200': { description: 'text' } },
        },
      },
    },
  }
}
