-- cgroup v2: a directory's id (what bpf_get_current_cgroup_id() gives),
-- ids back to paths, and the container a path names. Paths are read from
-- the kernel's own directories and names, so they are text to show, never
-- trusted further.
local M = {}

-- The cgroup2 mount point (the deepest where several are mounted), or nil.
function M.mount()
  local f = io.open("/proc/self/mounts", "r")
  if not f then return nil end
  local root
  for line in f:lines() do
    local dir, fstype = line:match("^%S+ (%S+) (%S+)")
    if fstype == "cgroup2" and (not root or dir == "/sys/fs/cgroup") then root = dir end
  end
  f:close()
  return root
end

-- Where a cgroup v2 directory is: { path, id, level }, or nil and why not.
-- level is its depth below the cgroup2 mount, as
-- bpf_get_current_ancestor_cgroup_id() counts it.
function M.lookup(path)
  local real = path:gsub("/+$", ""):gsub("//+", "/")
  if real:sub(1, 1) ~= "/" or ("/" .. real .. "/"):find("/%.%.?/") then
    return nil, path .. ": give the cgroup's absolute path, without . or .. (e.g. /sys/fs/cgroup/system.slice)"
  end
  local ok, id = pcall(BPF.cgroup_id, real)
  local root = M.mount()
  if not ok then
    return nil, (tostring(id):gsub("^[^:]*:%d+: ", "")) .. (root and (" (cgroup2 is mounted at " .. root .. ")") or "")
  end
  if not root or not (real == root or real:sub(1, #root + 1) == root .. "/") then
    return nil, path .. ": give the path under the cgroup2 mount (" .. (root or "/sys/fs/cgroup") .. "/...)"
  end
  local level = 0
  for _ in real:sub(#root + 1):gmatch("[^/]+") do level = level + 1 end
  return { path = real, id = id, level = level }
end

-- id -> path below the mount ("/system.slice/ssh.service"), walked again
-- when an id is not known yet (a cgroup made since)
local by_id = {}

local function walk(root, rel)
  local ok, id = pcall(BPF.cgroup_id, root .. rel)
  if not ok then return end
  by_id[id] = rel == "" and "/" or rel
  for _, d in ipairs(BPF.listdir(root .. rel) or {}) do
    local sub = root .. rel .. "/" .. d
    local f = io.open(sub .. "/cgroup.procs", "r")
    if f then
      f:close()
      walk(root, rel .. "/" .. d)
    end
  end
end

function M.path(id)
  if not by_id[id] then
    local root = M.mount()
    if root then walk(root, "") end
  end
  return by_id[id]
end

-- The container a cgroup path names, as runtimes name their cgroups:
-- systemd scopes docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope,
-- libpod-ID.scope, or a bare ID directory (cgroupfs drivers: /docker/ID,
-- /kubepods/.../ID). Returns the 64-hex id and the runtime, or nil.
local RUNTIMES = { docker = "docker", ["cri-containerd"] = "containerd", crio = "cri-o", libpod = "podman" }

function M.container(path)
  local id, runtime
  for part in (path or ""):gmatch("[^/]+") do
    local prefix, hex = part:match("^([%a-]+)%-(%x+)%.scope$")
    if hex and #hex == 64 and RUNTIMES[prefix] then
      id, runtime = hex, RUNTIMES[prefix]
    elseif #part == 64 and part:match("^%x+$") then
      id, runtime = part, nil
    end
  end
  return id, runtime
end

-- What a container column shows: the container's short id (12 hex, as
-- `docker ps` shows it), the cgroup path where none is named; full = the
-- whole id (JSON).
function M.label(path, full)
  local id = M.container(path)
  if id then return full and id or id:sub(1, 12) end
  return path or "?"
end

-- A live process's cgroup path (the "0::" line of /proc/PID/cgroup), or nil.
function M.of_pid(pid)
  local f = io.open("/proc/" .. math.tointeger(pid) .. "/cgroup", "r")
  if not f then return nil end
  local path
  for line in f:lines() do
    path = path or line:match("^0::(.*)$")
  end
  f:close()
  return path
end

return M
