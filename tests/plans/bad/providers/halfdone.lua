-- A provider a plan brings that lacks most of the contract (and misspells stop).
local P = { name = "halfdone" }
function P.dataset_path(site, m, ds) return site.name .. "/" .. m.name .. "/" .. ds.name end
function P.sync() return {} end
function P.restore() return {} end
function P.stops() return {} end
return P
