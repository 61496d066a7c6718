source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/lib_stores.sh"
start_s3rver; start_sshd
export RESTIC_PASSWORD=x RESTIC_CACHE_DIR=$WORK/rc
head -c 50000000 /dev/urandom > f
time restic -r s3:http://127.0.0.1:$S3_PORT/restic-bench/repo init
time restic -r s3:http://127.0.0.1:$S3_PORT/restic-bench/repo backup f
SSHCMD="ssh -p $SSH_PORT -i $LIFEBOAT_SSH_KEY -o UserKnownHostsFile=$LIFEBOAT_SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o BatchMode=yes $(id -un)@127.0.0.1 -s sftp"
time restic -r sftp:$(id -un)@127.0.0.1:$WORK/sshd/data/restic -o sftp.command="$SSHCMD" init
time restic -r sftp:$(id -un)@127.0.0.1:$WORK/sshd/data/restic -o sftp.command="$SSHCMD" backup f
