#!/bin/sh
# genplan.sh MACHINES GROUPS: a plan on the noop provider whose failover
# runs 5 steps per machine (restore, two prepare actions, start, health).
n=$1; g=$2
echo "lifeboat: 1"; echo "name: bench"; echo "max_parallel: 100"
echo "sites:"; for s in primary recovery drill; do echo "  $s: { provider: noop }"; done
echo "machines:"
i=1; while [ "$i" -le "$n" ]; do
	echo "  m$i:"
	echo "    datasets: [ { name: data, kind: tree, path: data } ]"
	echo "    prepare:"
	echo "      - lua: return { n = $i }"
	echo "      - lua: log(\"prepared %s on %s\", machine.name, site.name)"
	i=$((i + 1))
done
echo "groups:"
k=1; while [ "$k" -le "$g" ]; do
	echo "  - name: g$k"
	printf "    machines: ["
	i=$(( (k - 1) * n / g + 1 )); e=$(( k * n / g )); sep=""
	while [ "$i" -le "$e" ]; do printf "%sm%s" "$sep" "$i"; sep=", "; i=$((i + 1)); done
	echo "]"
	k=$((k + 1))
done
