/**
 * The Redis adapter's Lua scripts: every write of the task queue and the callback outbox is one script, so
 * each runs atomically (Redis runs one script at a time, and replicates and appends it to the AOF as one
 * unit). The key layout is described in `redis-queue.ts`.
 *
 * Conventions: `ARGV[1]` is always the key prefix; the scripts build every key from it (like BullMQ's own
 * scripts build job keys), so they take no `KEYS` and need one Redis primary (not Redis Cluster). Times
 * are epoch milliseconds passed by the caller from its clock: no script reads Redis `TIME`. A null is
 * an absent hash field; an empty-string argument means "none" where a field is optional.
 */

/** The fields `get` reads from a task hash, in this order (everything but the payload). */
export const TASK_FIELDS = [
  "q",
  "own",
  "by",
  "st",
  "ats",
  "max",
  "timestamp",
  "exp",
  "processedOn",
  "finishedOn",
  "pb",
  "dl",
  "returnvalue",
  "code",
  "failedReason",
  "tb",
  "ecode",
] as const;

/** The fields of a delivery hash, in the order the scripts return them. */
export const DELIVERY_FIELDS = [
  "id",
  "task",
  "ep",
  "own",
  "ev",
  "url",
  "auth",
  "body",
  "st",
  "n",
  "next",
  "err",
  "code",
  "created",
  "delivered",
] as const;

/** Helpers shared by the scripts (prepended to each). */
const PRELUDE = `
local rcall = redis.call
local P = ARGV[1]
local INDEX = P .. '::tasks'
local function qkey(queue, kind) return P .. ':' .. queue .. ':' .. kind end
local function jobKey(queue, id) return P .. ':' .. queue .. ':' .. id end
local function dkey(id) return P .. '::dlv:' .. id end

-- The task's lease ends (finished, or put back): off the active list, the lease index and its worker's set.
local function endLease(queue, id, key)
  rcall('LREM', qkey(queue, 'active'), -1, id)
  rcall('ZREM', P .. '::leases', id)
  local worker = rcall('HGET', key, 'pb')
  if worker then rcall('SREM', P .. '::worker:' .. worker, id) end
end

-- Back to PENDING at its old place in the queue; wakes the queue's waiters.
local function requeue(queue, id, key)
  rcall('HSET', key, 'st', 'PENDING')
  rcall('HDEL', key, 'tok', 'dl')
  local f = rcall('HMGET', key, 'seq', 'exp')
  rcall('ZADD', qkey(queue, 'prioritized'), f[1], id)
  if f[2] then rcall('ZADD', P .. '::expiring', f[2], id) end
  rcall('PUBLISH', P .. '::work:' .. queue, '')
end

-- SUCCESS, FAILURE or UNDEFINED at now; wakes the task's long polls.
local function finish(queue, id, key, status, now)
  rcall('HSET', key, 'st', status, 'finishedOn', now)
  rcall('HDEL', key, 'tok', 'dl')
  rcall('ZADD', qkey(queue, status == 'SUCCESS' and 'completed' or 'failed'), now, id)
  rcall('ZADD', P .. '::finished', now, id)
  rcall('PUBLISH', P .. '::done:' .. id, status)
end

-- Whether the task's callback spec lists the event.
local function wants(key, event)
  local events = rcall('HGET', key, 'cbe')
  if not events then return false end
  return string.find(',' .. events .. ',', ',' .. event .. ',', 1, true) ~= nil
end

-- Writes a new delivery ('pending', due at once, or 'skipped' with the note); indexes it; wakes dispatchers.
local function addDelivery(id, taskId, ep, owner, event, url, auth, body, status, note, at)
  local key = dkey(id)
  local fields = {'id', id, 'ep', ep, 'own', owner, 'ev', event, 'body', body, 'n', 0, 'created', at, 'st', status}
  if taskId then
    fields[#fields + 1] = 'task'; fields[#fields + 1] = taskId
    rcall('ZADD', P .. '::dlv-task:' .. taskId, 0, id)
  end
  if url then fields[#fields + 1] = 'url'; fields[#fields + 1] = url end
  if auth then fields[#fields + 1] = 'auth'; fields[#fields + 1] = auth end
  if status == 'pending' then
    fields[#fields + 1] = 'next'; fields[#fields + 1] = at
    rcall('ZADD', P .. '::dlv-due', at, id)
    rcall('PUBLISH', P .. '::due', at)
  else
    if note then fields[#fields + 1] = 'err'; fields[#fields + 1] = note end
    rcall('ZADD', P .. '::dlv-done', at, id)
  end
  rcall('HSET', key, unpack(fields))
  rcall('ZADD', P .. '::dlv-ep:' .. ep .. ':' .. status, 0, id)
  return status
end

-- The delivery of a task that just finished with the event, from its stored spec (no URL: skipped).
local function finishDelivery(key, taskId, queue, event, body, deliveryId, now, noUrlNote)
  local f = rcall('HMGET', key, 'cbu', 'cba', 'own')
  local status = f[1] and 'pending' or 'skipped'
  return addDelivery(deliveryId, taskId, queue, f[3], event, f[1], f[2], body, status, noUrlNote, now)
end

-- An optional string argument: '' is none, anything else is '=' followed by the value.
local function optional(arg)
  if arg == '' then return false end
  return string.sub(arg, 2)
end

-- The fields of a delivery record, in DELIVERY_FIELDS order.
local function deliveryFields(id)
  return rcall('HMGET', dkey(id), ${fieldList(DELIVERY_FIELDS)})
end

local function appendAll(out, list) for _, v in ipairs(list) do out[#out + 1] = v end end

-- Moves a delivery from one status's endpoint index to another's.
local function moveStatus(id, ep, from, to)
  rcall('ZREM', P .. '::dlv-ep:' .. ep .. ':' .. from, id)
  rcall('ZADD', P .. '::dlv-ep:' .. ep .. ':' .. to, 0, id)
end

-- A failed or delivered delivery becomes pending, due at now (replays).
local function replayOne(id, status, ep, now)
  local key = dkey(id)
  rcall('HSET', key, 'st', 'pending', 'next', now)
  rcall('HDEL', key, 'delivered', 'tok', 'until')
  rcall('ZADD', P .. '::dlv-due', now, id)
  rcall('ZREM', P .. '::dlv-claimed', id)
  rcall('ZREM', P .. '::dlv-done', id)
  moveStatus(id, ep, status, 'pending')
end

-- The first leasable (queued, unexpired) tasks of a queue, oldest first; looks past at most 1,000 expired ones.
local function leasable(queue, max, now)
  local pending = qkey(queue, 'prioritized')
  local picked = {}
  local start = 0
  local page = max + 16
  while #picked < max and start < max + 1000 do
    local ids = rcall('ZRANGE', pending, start, start + page - 1)
    for _, id in ipairs(ids) do
      local exp = rcall('HGET', jobKey(queue, id), 'exp')
      if not exp or tonumber(exp) > now then
        picked[#picked + 1] = id
        if #picked == max then break end
      end
    end
    if #ids < page then break end
    start = start + page
  end
  return picked
end
`;

const BODIES = {
  /**
   * (P, id, queue, owner, createdBy, payload, maxAttempts, createdAt, expiresAt|'', callback: 0|1, url|'',
   * auth|'', events) → 1, or 0 when the id is taken.
   */
  enqueue: `
local id, queue = ARGV[2], ARGV[3]
if rcall('HSETNX', INDEX, id, queue) == 0 then return 0 end
local seq = rcall('INCR', P .. '::seq')
local key = jobKey(queue, id)
local fields = {'name', 'task', 'data', ARGV[6], 'timestamp', ARGV[8], 'ats', 0, 'st', 'PENDING', 'q', queue,
  'own', ARGV[4], 'by', ARGV[5], 'max', ARGV[7], 'seq', seq}
if ARGV[9] ~= '' then
  fields[#fields + 1] = 'exp'; fields[#fields + 1] = ARGV[9]
  rcall('ZADD', P .. '::expiring', ARGV[9], id)
end
if ARGV[10] == '1' then
  fields[#fields + 1] = 'cbe'; fields[#fields + 1] = ARGV[13]
  if ARGV[11] ~= '' then fields[#fields + 1] = 'cbu'; fields[#fields + 1] = ARGV[11] end
  if ARGV[12] ~= '' then fields[#fields + 1] = 'cba'; fields[#fields + 1] = ARGV[12] end
end
rcall('HSET', key, unpack(fields))
rcall('ZADD', qkey(queue, 'prioritized'), seq, id)
rcall('SADD', P .. '::queues', queue)
rcall('PUBLISH', P .. '::work:' .. queue, '')
return 1`,

  /**
   * (P, queue, workerId, max, leaseExpiresAt, now, tokenBase) → per task: id, owner, createdBy, payload,
   * maxAttempts, createdAt, attempt, token.
   */
  lease: `
local queue, worker, deadline, now, base = ARGV[2], ARGV[3], ARGV[5], ARGV[6], ARGV[7]
local picked = leasable(queue, tonumber(ARGV[4]), tonumber(now))
local out = {}
local pending, active = qkey(queue, 'prioritized'), qkey(queue, 'active')
for i, id in ipairs(picked) do
  local key = jobKey(queue, id)
  local token = base .. '.' .. i
  local attempt = rcall('HINCRBY', key, 'ats', 1)
  rcall('HSET', key, 'st', 'STARTED', 'tok', token, 'dl', deadline, 'pb', worker, 'processedOn', now)
  rcall('ZREM', pending, id)
  rcall('ZREM', P .. '::expiring', id)
  rcall('LPUSH', active, id)
  rcall('ZADD', P .. '::leases', deadline, id)
  rcall('SADD', P .. '::worker:' .. worker, id)
  local f = rcall('HMGET', key, 'own', 'by', 'data', 'max', 'timestamp')
  out[#out + 1] = id
  appendAll(out, f)
  out[#out + 1] = attempt
  out[#out + 1] = token
end
return out`,

  /** (P, queue, now) → 1 when the queue has a leasable task. */
  hasWork: `
return #leasable(ARGV[2], 1, tonumber(ARGV[3]))`,

  /** (P, id, token, leaseExpiresAt) → 1, or 0 when the lease was lost. */
  extend: `
local id = ARGV[2]
local queue = rcall('HGET', INDEX, id)
if not queue then return 0 end
local key = jobKey(queue, id)
local f = rcall('HMGET', key, 'st', 'tok')
if f[1] ~= 'STARTED' or f[2] ~= ARGV[3] then return 0 end
rcall('HSET', key, 'dl', ARGV[4])
rcall('ZADD', P .. '::leases', ARGV[4], id)
return 1`,

  /**
   * (P, id, token, now, output, statusCode, bodyHead, bodyTail, callbackResult|'', deliveryId, noUrlNote)
   * → {1, delivery status or false}, or {0} when the lease was lost. The success body is
   * bodyHead .. (callbackResult or output) .. bodyTail, built only when the spec asks for it.
   */
  complete: `
local id, now = ARGV[2], ARGV[4]
local queue = rcall('HGET', INDEX, id)
if not queue then return {0} end
local key = jobKey(queue, id)
local f = rcall('HMGET', key, 'st', 'tok')
if f[1] ~= 'STARTED' or f[2] ~= ARGV[3] then return {0} end
endLease(queue, id, key)
rcall('HSET', key, 'returnvalue', ARGV[5], 'code', ARGV[6])
rcall('HDEL', key, 'failedReason', 'tb', 'ecode')
finish(queue, id, key, 'SUCCESS', now)
local delivery = false
if wants(key, 'succeeded') then
  local result = ARGV[9] ~= '' and ARGV[9] or ARGV[5]
  delivery = finishDelivery(key, id, queue, 'succeeded', ARGV[7] .. result .. ARGV[8], ARGV[10], now, ARGV[11])
end
return {1, delivery}`,

  /**
   * (P, id, token, now, retry: 0|1, message, traceback|'', hasTraceback: 0|1, statusCode|'', failureBody,
   * deliveryId, noUrlNote) → {'requeued'} | {'failed', delivery status or false} | {'lease_lost'}.
   */
  fail: `
local id, now = ARGV[2], ARGV[4]
local queue = rcall('HGET', INDEX, id)
if not queue then return {'lease_lost'} end
local key = jobKey(queue, id)
local f = rcall('HMGET', key, 'st', 'tok', 'ats', 'max')
if f[1] ~= 'STARTED' or f[2] ~= ARGV[3] then return {'lease_lost'} end
endLease(queue, id, key)
rcall('HSET', key, 'failedReason', ARGV[6])
if ARGV[8] == '1' then rcall('HSET', key, 'tb', ARGV[7]) else rcall('HDEL', key, 'tb') end
if ARGV[9] ~= '' then rcall('HSET', key, 'ecode', ARGV[9]) else rcall('HDEL', key, 'ecode') end
if ARGV[5] == '1' and tonumber(f[3]) < tonumber(f[4]) then
  requeue(queue, id, key)
  return {'requeued'}
end
finish(queue, id, key, 'FAILURE', now)
local delivery = false
if wants(key, 'failed') then
  delivery = finishDelivery(key, id, queue, 'failed', ARGV[10], ARGV[11], now, ARGV[12])
end
return {'failed', delivery}`,

  /** (P, id, token) → 1, or 0 when the lease was lost. Gives the attempt back. */
  release: `
local id = ARGV[2]
local queue = rcall('HGET', INDEX, id)
if not queue then return 0 end
local key = jobKey(queue, id)
local f = rcall('HMGET', key, 'st', 'tok')
if f[1] ~= 'STARTED' or f[2] ~= ARGV[3] then return 0 end
endLease(queue, id, key)
rcall('HINCRBY', key, 'ats', -1)
requeue(queue, id, key)
return 1`,

  /** (P, workerId, now) → how many live leases of the worker now expire at now. */
  revoke: `
local now = tonumber(ARGV[3])
local n = 0
for _, id in ipairs(rcall('SMEMBERS', P .. '::worker:' .. ARGV[2])) do
  local queue = rcall('HGET', INDEX, id)
  if queue then
    local key = jobKey(queue, id)
    local f = rcall('HMGET', key, 'st', 'dl')
    if f[1] == 'STARTED' and tonumber(f[2]) > now then
      rcall('HSET', key, 'dl', ARGV[3])
      rcall('ZADD', P .. '::leases', ARGV[3], id)
      n = n + 1
    end
  end
end
return n`,

  /** (P, id) → the TASK_FIELDS of the task, or an empty list when unknown. */
  get: `
local queue = rcall('HGET', INDEX, ARGV[2])
if not queue then return {} end
return rcall('HMGET', jobKey(queue, ARGV[2]), ${fieldList(TASK_FIELDS)})`,

  /** (P, queue) → {queued, inFlight}. */
  counts: `
return {rcall('ZCARD', qkey(ARGV[2], 'prioritized')), rcall('LLEN', qkey(ARGV[2], 'active'))}`,

  /** (P) → per queue with work: queue, queued, inFlight. Forgets queues left empty. */
  depths: `
local out = {}
for _, queue in ipairs(rcall('SMEMBERS', P .. '::queues')) do
  local queued = rcall('ZCARD', qkey(queue, 'prioritized'))
  local inFlight = rcall('LLEN', qkey(queue, 'active'))
  if queued + inFlight > 0 then
    out[#out + 1] = queue; out[#out + 1] = queued; out[#out + 1] = inFlight
  else
    rcall('SREM', P .. '::queues', queue)
  end
end
return out`,

  /**
   * (P, now, limit) → per lease past its deadline: id, token, attempts, maxAttempts, wantsFailed (0|1).
   * Reads only: the sweep decides in code (for the failure message and body) and applies with `reclaim`.
   */
  expiredLeases: `
local out = {}
for _, id in ipairs(rcall('ZRANGEBYSCORE', P .. '::leases', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
  local queue = rcall('HGET', INDEX, id)
  if queue then
    local key = jobKey(queue, id)
    local f = rcall('HMGET', key, 'tok', 'ats', 'max')
    out[#out + 1] = id
    out[#out + 1] = f[1] or ''
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
    out[#out + 1] = wants(key, 'failed') and 1 or 0
  else
    rcall('ZREM', P .. '::leases', id)
  end
end
return out`,

  /**
   * (P, now, noUrlNote, then per lease: id, token, message ('' = put back), failureBody|'', deliveryId|'')
   * → {requeued, failed}. A lease is reclaimed only if it still has that token and its deadline passed.
   */
  reclaim: `
local now = ARGV[2]
local requeued, failed = 0, 0
for i = 4, #ARGV, 5 do
  local id, token, message, body, deliveryId = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local queue = rcall('HGET', INDEX, id)
  if queue then
    local key = jobKey(queue, id)
    local f = rcall('HMGET', key, 'st', 'tok', 'dl')
    if f[1] == 'STARTED' and f[2] == token and tonumber(f[3]) <= tonumber(now) then
      endLease(queue, id, key)
      if message == '' then
        requeue(queue, id, key)
        requeued = requeued + 1
      else
        rcall('HSET', key, 'failedReason', message)
        rcall('HDEL', key, 'tb', 'ecode')
        finish(queue, id, key, 'FAILURE', now)
        if body ~= '' then finishDelivery(key, id, queue, 'failed', body, deliveryId, now, ARGV[3]) end
        failed = failed + 1
      end
    end
  end
end
return {requeued, failed}`,

  /** (P, now, message, limit) → {examined, expired}: queued tasks past their expiry become UNDEFINED. */
  expireQueued: `
local now = ARGV[2]
local ids = rcall('ZRANGEBYSCORE', P .. '::expiring', '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local n = 0
for _, id in ipairs(ids) do
  rcall('ZREM', P .. '::expiring', id)
  local queue = rcall('HGET', INDEX, id)
  if queue then
    local key = jobKey(queue, id)
    if rcall('HGET', key, 'st') == 'PENDING' then
      rcall('ZREM', qkey(queue, 'prioritized'), id)
      rcall('HSET', key, 'failedReason', ARGV[3])
      rcall('HDEL', key, 'tb', 'ecode')
      finish(queue, id, key, 'UNDEFINED', now)
      n = n + 1
    end
  end
end
return {#ids, n}`,

  /** (P, cutoff, limit) → finished tasks deleted (finished at or before the cutoff). */
  purgeTasks: `
local ids = rcall('ZRANGEBYSCORE', P .. '::finished', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local queue = rcall('HGET', INDEX, id)
  if queue then
    rcall('DEL', jobKey(queue, id))
    rcall('ZREM', qkey(queue, 'completed'), id)
    rcall('ZREM', qkey(queue, 'failed'), id)
    rcall('HDEL', INDEX, id)
  end
  rcall('ZREM', P .. '::finished', id)
end
return #ids`,

  /** (P, cutoff, limit) → delivered and skipped deliveries deleted (created at or before the cutoff), with their attempts. */
  purgeDeliveries: `
local ids = rcall('ZRANGEBYSCORE', P .. '::dlv-done', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local key = dkey(id)
  local f = rcall('HMGET', key, 'ep', 'st', 'task')
  if f[1] then rcall('ZREM', P .. '::dlv-ep:' .. f[1] .. ':' .. f[2], id) end
  if f[3] then rcall('ZREM', P .. '::dlv-task:' .. f[3], id) end
  rcall('DEL', key, key .. ':attempts')
  rcall('ZREM', P .. '::dlv-done', id)
end
return #ids`,

  /**
   * (P, id, taskId|'', endpointId, owner, event, url|'', auth|'', body, status, note (optional: '' or
   * '=' .. text), createdAt) → 1, or 0 when the id is taken.
   */
  addDelivery: `
if rcall('EXISTS', dkey(ARGV[2])) == 1 then return 0 end
addDelivery(ARGV[2], ARGV[3] ~= '' and ARGV[3] or false, ARGV[4], ARGV[5], ARGV[6],
  ARGV[7] ~= '' and ARGV[7] or false, ARGV[8] ~= '' and ARGV[8] or false, ARGV[9], ARGV[10],
  optional(ARGV[11]), ARGV[12])
return 1`,

  /**
   * (P, now, max, claimExpiresAt, tokenBase) → per delivery: token, then DELIVERY_FIELDS. Due ones that
   * no claim holds (never claimed, or the claim ran out), oldest due first, ties by id.
   */
  claimDue: `
local now, max, untilAt, base = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local due, claimed = P .. '::dlv-due', P .. '::dlv-claimed'
local candidates = {}
local free = rcall('ZRANGEBYSCORE', due, '-inf', now, 'WITHSCORES', 'LIMIT', 0, max)
for i = 1, #free, 2 do candidates[#candidates + 1] = {free[i], tonumber(free[i + 1])} end
for _, id in ipairs(rcall('ZRANGEBYSCORE', claimed, '-inf', now, 'LIMIT', 0, max)) do
  candidates[#candidates + 1] = {id, tonumber(rcall('HGET', dkey(id), 'next'))}
end
table.sort(candidates, function(a, b)
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[1] < b[1]
end)
local out = {}
for i = 1, math.min(max, #candidates) do
  local id = candidates[i][1]
  local token = base .. '.' .. i
  rcall('ZREM', due, id)
  rcall('ZADD', claimed, untilAt, id)
  rcall('HSET', dkey(id), 'tok', token, 'until', untilAt)
  out[#out + 1] = token
  appendAll(out, deliveryFields(id))
end
return out`,

  /**
   * (P, id, token, status, next|'', lastError (optional: '' or '=' .. text), statusCode|'', deliveredAt|'',
   * attemptJson) → the
   * attempt's number, or 0 when the claim was lost or the delivery is unknown or not pending.
   */
  recordAttempt: `
local id, status = ARGV[2], ARGV[4]
local key = dkey(id)
local f = rcall('HMGET', key, 'st', 'tok', 'ep', 'created')
if f[1] ~= 'pending' or f[2] ~= ARGV[3] then return 0 end
local n = rcall('HINCRBY', key, 'n', 1)
rcall('HSET', key, 'st', status)
rcall('HDEL', key, 'tok', 'until')
local lastError = optional(ARGV[6])
for _, pair in ipairs({{'next', ARGV[5]}, {'code', ARGV[7]}, {'delivered', ARGV[8]}}) do
  if pair[2] ~= '' then rcall('HSET', key, pair[1], pair[2]) else rcall('HDEL', key, pair[1]) end
end
if lastError then rcall('HSET', key, 'err', lastError) else rcall('HDEL', key, 'err') end
rcall('ZREM', P .. '::dlv-claimed', id)
if status == 'pending' then
  rcall('ZADD', P .. '::dlv-due', ARGV[5], id)
  rcall('PUBLISH', P .. '::due', ARGV[5])
else
  rcall('ZREM', P .. '::dlv-due', id)
  moveStatus(id, f[3], 'pending', status)
  if status == 'delivered' then rcall('ZADD', P .. '::dlv-done', f[4], id) end
end
rcall('RPUSH', key .. ':attempts', ARGV[9])
return n`,

  /** (P, id, token) → 1 when the claim was given back (due as it was), 0 when it was lost. */
  releaseClaim: `
local id = ARGV[2]
local key = dkey(id)
local f = rcall('HMGET', key, 'st', 'tok', 'next')
if f[1] ~= 'pending' or f[2] ~= ARGV[3] then return 0 end
rcall('HDEL', key, 'tok', 'until')
rcall('ZREM', P .. '::dlv-claimed', id)
rcall('ZADD', P .. '::dlv-due', f[3], id)
rcall('PUBLISH', P .. '::due', f[3])
return 1`,

  /** (P, id, now) → DELIVERY_FIELDS after the replay (unchanged unless failed or delivered), or {} when unknown. */
  replay: `
local id, now = ARGV[2], ARGV[3]
local f = rcall('HMGET', dkey(id), 'st', 'ep')
if not f[1] then return {} end
if f[1] == 'failed' or f[1] == 'delivered' then
  replayOne(id, f[1], f[2], now)
  rcall('PUBLISH', P .. '::due', now)
end
return deliveryFields(id)`,

  /** (P, endpointId, now) → how many dead letters of the endpoint became pending. */
  replayFailed: `
local ep, now = ARGV[2], ARGV[3]
local ids = rcall('ZRANGE', P .. '::dlv-ep:' .. ep .. ':failed', 0, -1)
for _, id in ipairs(ids) do replayOne(id, 'failed', ep, now) end
if #ids > 0 then rcall('PUBLISH', P .. '::due', now) end
return #ids`,

  /** (P, id) → DELIVERY_FIELDS, or {} when unknown. */
  getDelivery: `
local f = deliveryFields(ARGV[2])
if not f[1] then return {} end
return f`,

  /** (P, taskId) → DELIVERY_FIELDS of each of the task's deliveries, oldest (smallest id) first. */
  deliveriesOfTask: `
local out = {}
for _, id in ipairs(rcall('ZRANGE', P .. '::dlv-task:' .. ARGV[2], 0, -1)) do appendAll(out, deliveryFields(id)) end
return out`,

  /** (P, endpointId, status|'', before|'', limit) → DELIVERY_FIELDS of each, newest (largest id) first. */
  listDeliveries: `
local ep, limit = ARGV[2], tonumber(ARGV[5])
local statuses = ARGV[3] ~= '' and {ARGV[3]} or {'pending', 'delivered', 'failed', 'skipped'}
local upper = ARGV[4] ~= '' and ('(' .. ARGV[4]) or '+'
local ids = {}
for _, status in ipairs(statuses) do
  appendAll(ids, rcall('ZREVRANGEBYLEX', P .. '::dlv-ep:' .. ep .. ':' .. status, upper, '-', 'LIMIT', 0, limit))
end
table.sort(ids, function(a, b) return a > b end)
local out = {}
for i = 1, math.min(limit, #ids) do appendAll(out, deliveryFields(ids[i])) end
return out`,

  /** (P) → {earliest due time of an unclaimed pending delivery | false, earliest claim expiry | false}. */
  nextDue: `
local due = rcall('ZRANGE', P .. '::dlv-due', 0, 0, 'WITHSCORES')
local claim = rcall('ZRANGE', P .. '::dlv-claimed', 0, 0, 'WITHSCORES')
return {due[2] or false, claim[2] or false}`,
} as const;

function fieldList(fields: readonly string[]): string {
  return fields.map((f) => `'${f}'`).join(", ");
}

export type ScriptName = keyof typeof BODIES;

/** Every script with the prelude, ready for ioredis `defineCommand`. */
export const SCRIPTS: { readonly [K in ScriptName]: string } = Object.fromEntries(
  Object.entries(BODIES).map(([name, body]) => [name, `${PRELUDE}\n${body}`]),
) as { [K in ScriptName]: string };
