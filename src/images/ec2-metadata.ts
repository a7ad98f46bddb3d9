/**
 * /usr/bin/ec2-metadata in the Nimbus AMIs: Amazon Linux's query tool for the instance metadata
 * service, in POSIX sh. It always uses IMDSv2 (a session token first) and speaks HTTP with curl
 * where the image has it, else with busybox nc (the minimal image: Debian's static busybox wget
 * crashes on start).
 */
export const EC2_METADATA_PATH = '/usr/bin/ec2-metadata';

export const EC2_METADATA_SCRIPT = `#!/bin/sh
# ec2-metadata: query the instance metadata service (IMDSv2). See ec2-metadata --help.
IMDS=169.254.169.254

# http METHOD PATH [HEADER]: the body of the answer; fails unless it is 200.
http() {
  if command -v curl >/dev/null 2>&1; then
    if [ -n "$3" ]; then curl -sf -m 5 -X "$1" -H "$3" "http://$IMDS$2"; else curl -sf -m 5 -X "$1" "http://$IMDS$2"; fi
    return
  fi
  out=$({ if [ -n "$3" ]; then printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\n%s\\r\\n\\r\\n' "$1" "$2" "$IMDS" "$3"
          else printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' "$1" "$2" "$IMDS"; fi; } | nc -w 5 $IMDS 80 | tr -d '\\r') || return 1
  case "$out" in "HTTP/1."?" 200 "*) ;; *) return 1 ;; esac
  printf '%s\\n' "$out" | sed '1,/^$/d'
}

TOKEN=$(http PUT /latest/api/token "X-aws-ec2-metadata-token-ttl-seconds: 21600") || {
  echo "ec2-metadata: the instance metadata service did not answer" >&2; exit 1; }
get() { http GET "/latest/$1" "X-aws-ec2-metadata-token: $TOKEN"; }

# show LABEL PATH: "label: value", or "label: not available".
show() {
  if v=$(get "$2"); then printf '%s: %s\\n' "$1" "$v"; else printf '%s: not available\\n' "$1"; fi
}

usage() {
  cat <<'USAGE'
ec2-metadata [options]
Query the instance metadata service of this instance (IMDSv2).
  -a/--ami-id               The AMI id used to launch this instance
  -l/--ami-launch-index     The index of this instance in its reservation
  -b/--block-device-mapping Block devices attached at launch
  -i/--instance-id          The id of this instance
  -t/--instance-type        The type of this instance
  -h/--local-hostname       The local hostname
  -o/--local-ipv4           The private IPv4 address
  -z/--availability-zone    The availability zone
  -R/--region               The region
  -p/--public-hostname      The public hostname
  -v/--public-ipv4          The public IPv4 address
  -u/--public-keys          The public keys
  -e/--reservation-id       The reservation id
  -s/--security-groups      The security groups
  -d/--user-data            The user data
  -g/--tags                 The instance's tags (when metadata tags are on)
  --all                     Everything above
  --help                    This text
USAGE
}

run() {
  case "$1" in
    -a|--ami-id) show ami-id meta-data/ami-id ;;
    -l|--ami-launch-index) show ami-launch-index meta-data/ami-launch-index ;;
    -b|--block-device-mapping)
      echo "block-device-mapping:"
      for d in $(get meta-data/block-device-mapping/); do printf '\\t %s: %s\\n' "$d" "$(get "meta-data/block-device-mapping/$d")"; done ;;
    -i|--instance-id) show instance-id meta-data/instance-id ;;
    -t|--instance-type) show instance-type meta-data/instance-type ;;
    -h|--local-hostname) show local-hostname meta-data/local-hostname ;;
    -o|--local-ipv4) show local-ipv4 meta-data/local-ipv4 ;;
    -z|--availability-zone) show placement meta-data/placement/availability-zone ;;
    -R|--region) show region meta-data/placement/region ;;
    -p|--public-hostname) show public-hostname meta-data/public-hostname ;;
    -v|--public-ipv4) show public-ipv4 meta-data/public-ipv4 ;;
    -u|--public-keys) show public-keys meta-data/public-keys/0/openssh-key ;;
    -e|--reservation-id) show reservation-id meta-data/reservation-id ;;
    -s|--security-groups) show security-groups meta-data/security-groups ;;
    -d|--user-data) show user-data user-data ;;
    -g|--tags)
      echo "tags:"
      for k in $(get meta-data/tags/instance/); do printf '\\t %s: %s\\n' "$k" "$(get "meta-data/tags/instance/$k")"; done ;;
    --help) usage ;;
    *) echo "ec2-metadata: unknown option $1" >&2; usage >&2; exit 1 ;;
  esac
}

if [ $# -eq 0 ] || [ "$1" = "--all" ]; then
  set -- -a -l -b -i -t -h -o -z -R -p -v -u -e -s
fi
for opt in "$@"; do run "$opt"; done
`;
