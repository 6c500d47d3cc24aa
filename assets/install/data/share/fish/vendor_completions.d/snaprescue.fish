# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_snaprescue_global_optspecs
    string join \n to= source= instance= region= disk= endpoint= attach-to= h/help V/version
end

function __fish_snaprescue_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_snaprescue_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_snaprescue_using_subcommand
    set -l cmd (__fish_snaprescue_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c snaprescue -n "__fish_snaprescue_needs_command" -l to -d 'The wizard restores into DIR instead of PATH (PATH\'s disk full or read-only)' -r -F
complete -c snaprescue -n "__fish_snaprescue_needs_command" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_needs_command" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_needs_command" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_needs_command" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_needs_command" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_needs_command" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_needs_command" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -s V -l version -d 'Print version'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "writers" -d 'Step 1: processes using PATH\'s filesystem; freeze or thaw them'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "gpu" -d 'Step 2: GPUs and the processes using them'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "snapshots" -d 'Step 3: every snapshot that covers PATH, newest first, the recommended one marked'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "deleted" -d 'What the snapshot holds under PATH that the live tree lacks (and what changed)'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "restore" -d 'Copy entries back from a snapshot, verified'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "rollback" -d 'Put the whole subvolume or cloud disk back to the snapshot (the current state is kept)'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "pin" -d 'Keep a snapshot from its policy\'s deletion (lock, retention, permanent, snapper cleanup)'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "unpin" -d 'Undo snaprescue\'s pin of a snapshot (only what the pin changed)'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "protect" -d 'Audit the protection of PATH\'s disk (checks with stable ids); --apply fixes the policy'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "snapshot" -d 'Take a named, tagged snapshot of PATH\'s disk now: the pre-run marker'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "cleanup" -d 'Finish what interrupted runs left: rescue disks, ZFS clones, attachments, mounts, rollbacks'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "verify" -d 'Step 6: checkpoint integrity of PATHs (files or directories) and the torch.cuda check'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "drill" -d 'A practice lab on a loop-mounted btrfs volume, then the wizard on it'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "drill-writer" -d 'The drill\'s writer process (internal)'
complete -c snaprescue -n "__fish_snaprescue_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l rescue-open -d 'Copy files that are deleted but still open into DIR (on another filesystem)' -r -F
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l interval -d 'Seconds between the two scans that measure write rates' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l freeze
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l thaw -d 'Thaw what snaprescue froze (recorded in its journal), in this run or an earlier one'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l all -d 'With --thaw: also thaw processes stopped by someone else (a debugger, Ctrl-Z)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l force -d 'Allow --rescue-open DIR on the same filesystem as PATH (may overwrite deleted data)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l remount-ro -d 'Remount PATH\'s filesystem read-only (refused by the kernel while files are open for writing)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand writers" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand gpu" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand gpu" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshots" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l snapshot -d 'The snapshot: its id from `snapshots`, or its path (default: the recommended one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand deleted" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l snapshot -d 'The snapshot: its id from `snapshots`, or its path (default: the recommended one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l to -d 'Restore into DIR instead of PATH' -r -F
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l conflict -d 'What to do when an entry exists live: skip it or restore beside it' -r -f -a "skip\t'Leave the live file alone and report it as skipped'
keep-both\t'Restore beside it as `name.restored-<timestamp>`'"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l only-deleted -d 'Only entries that are missing from the live tree'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l snapshot -d 'The snapshot: its id from `snapshots`, or its path' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l confirm -d 'The subvolume path or id (ZFS: the dataset; cloud: the disk or volume id), typed to confirm' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l dry-run -d 'Print what the rollback would do, and change nothing'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l no-guard -d 'Delete the current state instead of keeping it as a read-only guard'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l snapshot -d 'The snapshot: its id from `snapshots`, or its path' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l days -d 'How many days from now it is kept at least (where the source counts days)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand pin" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l snapshot -d 'The snapshot: its id from `snapshots`, or its path' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand unpin" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l confirm -d 'The disk, dataset or subvolume, typed to confirm --apply' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l every -d 'How often the applied policy snapshots (default 12h: the seed\'s data-disk table)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l keep -d 'How long the applied policy keeps each snapshot (default 3d)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l all -d 'Every disk of the account in --region (comma-separated regions), with --source'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l apply -d 'Create and bind the recommended automatic policy (after the audit)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand protect" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l name -d 'The snapshot\'s name (its description on btrfs, `dataset@NAME` on ZFS)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l tag -d 'A tag to put on it, KEY=VALUE (repeatable)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l keep-days -d 'Keep it at least N days, out of every policy\'s reach' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l source -d 'Only this source: btrfs, zfs, aws, aliyun or tencent (default: every source that serves PATH)' -r -f -a "btrfs\t''
zfs\t''
aws\t''
aliyun\t''
tencent\t''"
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l instance -d 'The cloud instance (default: from the metadata service)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l region -d 'The cloud region (default: environment, profile, then metadata)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l disk -d 'The cloud disk or volume id (default: found from PATH\'s block device serial)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l endpoint -d 'The cloud API endpoint (default: AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL for EC2, SNAPRESCUE_ALIYUN_ECS_ENDPOINT for ECS, SNAPRESCUE_TENCENT_CBS_ENDPOINT for CBS, then the regional one)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l attach-to -d 'Attach rescue disks to this instance (default: the instance this runs on, from its metadata service, else --instance)' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l wait -d 'Wait until the snapshot is complete'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand snapshot" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand cleanup" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand cleanup" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand verify" -l python -d 'The training job\'s interpreter (default: python3)' -r -F
complete -c snaprescue -n "__fish_snaprescue_using_subcommand verify" -l job -d 'Check with the interpreter of this running training job, as it names it (its venv), inside its container when it runs in one' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand verify" -l timeout -d 'Seconds before the interpreter is considered hung' -r
complete -c snaprescue -n "__fish_snaprescue_using_subcommand verify" -l torch -d 'Also check torch.cuda and load each checkpoint with torch.load(weights_only=True) (implied by --python and --job; without it, no Python is started)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand verify" -l json
complete -c snaprescue -n "__fish_snaprescue_using_subcommand verify" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand drill" -l clean -d 'Tear the lab down (also after a crash)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand drill" -l no-wizard -d 'Set the lab up and print where, without opening the wizard'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand drill" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand drill-writer" -s h -l help -d 'Print help'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "writers" -d 'Step 1: processes using PATH\'s filesystem; freeze or thaw them'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "gpu" -d 'Step 2: GPUs and the processes using them'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "snapshots" -d 'Step 3: every snapshot that covers PATH, newest first, the recommended one marked'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "deleted" -d 'What the snapshot holds under PATH that the live tree lacks (and what changed)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "restore" -d 'Copy entries back from a snapshot, verified'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "rollback" -d 'Put the whole subvolume or cloud disk back to the snapshot (the current state is kept)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "pin" -d 'Keep a snapshot from its policy\'s deletion (lock, retention, permanent, snapper cleanup)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "unpin" -d 'Undo snaprescue\'s pin of a snapshot (only what the pin changed)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "protect" -d 'Audit the protection of PATH\'s disk (checks with stable ids); --apply fixes the policy'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "snapshot" -d 'Take a named, tagged snapshot of PATH\'s disk now: the pre-run marker'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "cleanup" -d 'Finish what interrupted runs left: rescue disks, ZFS clones, attachments, mounts, rollbacks'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "verify" -d 'Step 6: checkpoint integrity of PATHs (files or directories) and the torch.cuda check'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "drill" -d 'A practice lab on a loop-mounted btrfs volume, then the wizard on it'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "drill-writer" -d 'The drill\'s writer process (internal)'
complete -c snaprescue -n "__fish_snaprescue_using_subcommand help; and not __fish_seen_subcommand_from writers gpu snapshots deleted restore rollback pin unpin protect snapshot cleanup verify drill drill-writer help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
