#!powershell

# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# The action plugin of the same name validates the rules on the controller and sends
# 'desired': one record per rule with its stable name and its properties, keyed by the
# NetSecurity cmdlet parameter names (plugins/module_utils/windows_rules.py). This script
# stays thin on purpose: read the rules of the group, compare, write, undo on failure.

$spec = @{
    options = @{
        rules = @{
            type = 'list'
            elements = 'raw'
            default = @()
            # Never sent here ('desired' carries the rules): each element is checked on the
            # controller by owned_rules.rules_from_dicts; these mirror the port_rules doc fragment.
            options = @{
                protocol = @{ type = 'str' }
                port = @{ type = 'raw' }
                direction = @{ type = 'str'; default = 'inbound' }
                peers = @{ type = 'list'; elements = 'str'; default = @() }
                purpose = @{ type = 'str' }
                provenance = @{ type = 'str' }
                reference = @{ type = 'str' }
            }
        }
        state = @{ type = 'str'; choices = @('present', 'absent'); default = 'present' }
        group = @{ type = 'str'; default = 'biostar-hardening' }
        profiles = @{
            type = 'list'
            elements = 'str'
            default = @('Domain', 'Private', 'Public')
            choices = @('Domain', 'Private', 'Public')
        }
        management_ports = @{ type = 'list'; elements = 'int'; default = @() }
        desired = @{ type = 'list'; elements = 'dict' }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$group = $module.Params.group
# state, profiles and rules were settled on the controller: state=absent arrives as an
# empty 'desired', and each record already carries its profiles.
$desired = $module.Params.desired
$check = $module.CheckMode

if ($null -eq $desired) {
    $module.FailJson("The 'desired' option is missing: call the module as biostar.hardening.win_firewall_ports so that its action plugin prepares the rules.")
}
if (-not (Get-Command -Name New-NetFirewallRule -ErrorAction SilentlyContinue)) {
    $module.FailJson("The NetSecurity PowerShell module is missing (it ships with Windows 8 and Windows Server 2012 and later).")
}

Function ConvertTo-CanonicalAddress {
    # Windows reports 10.0.0.0/24 as 10.0.0.0/255.255.255.0 and a host without a prefix;
    # the controller sends CIDRs. Both become address/prefix here so that they compare.
    param([string]$Address)

    $text = $Address.Trim()
    $parts = $text.Split('/')
    $ip = $null
    if ($parts.Count -gt 2 -or -not [System.Net.IPAddress]::TryParse($parts[0], [ref]$ip)) {
        # Keywords (Any, LocalSubnet) and ranges are compared as written.
        return $text
    }
    $prefix = 32
    if ($ip.AddressFamily -eq [System.Net.Sockets.AddressFamily]::InterNetworkV6) {
        $prefix = 128
    }
    if ($parts.Count -eq 2) {
        $number = 0
        $mask = $null
        if ([int]::TryParse($parts[1], [ref]$number)) {
            $prefix = $number
        }
        elseif ([System.Net.IPAddress]::TryParse($parts[1], [ref]$mask)) {
            $prefix = 0
            foreach ($byte in $mask.GetAddressBytes()) {
                $prefix += ([Convert]::ToString($byte, 2) -replace '0', '').Length
            }
        }
        else {
            return $text
        }
    }
    return '{0}/{1}' -f $ip.ToString(), $prefix
}

Function Get-ProfileName {
    # 'Any' (0) and Domain|Private|Public (7) both mean every profile.
    param([object]$Value)

    $names = @(([string]$Value).Split(',') | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    if ($names -contains 'Any') {
        return @('Domain', 'Private', 'Public')
    }
    return $names
}

Function Get-OwnedRule {
    param([string]$Group)

    $found = @(Get-NetFirewallRule -Group $Group -PolicyStore PersistentStore -ErrorAction SilentlyContinue -ErrorVariable readErrors)
    # No rule in the group yet is the normal first run, not an error.
    $unexpected = @($readErrors | Where-Object { $_.CategoryInfo.Category -ne 'ObjectNotFound' })
    if ($unexpected.Count -gt 0) {
        throw $unexpected[0]
    }
    # -Group is a filter that may match wildcards; ownership is the exact group.
    foreach ($rule in @($found | Where-Object { $_.Group -eq $Group })) {
        $ports = $rule | Get-NetFirewallPortFilter
        $addresses = $rule | Get-NetFirewallAddressFilter
        @{
            name = [string]$rule.Name
            properties = @{
                DisplayName = [string]$rule.DisplayName
                Description = [string]$rule.Description
                Direction = [string]$rule.Direction
                Action = [string]$rule.Action
                Enabled = [string]$rule.Enabled
                Profile = @(Get-ProfileName -Value $rule.Profile)
                Protocol = [string]$ports.Protocol
                LocalPort = @($ports.LocalPort | ForEach-Object { [string]$_ })
                RemotePort = @($ports.RemotePort | ForEach-Object { [string]$_ })
                LocalAddress = @($addresses.LocalAddress | ForEach-Object { ConvertTo-CanonicalAddress -Address $_ })
                RemoteAddress = @($addresses.RemoteAddress | ForEach-Object { ConvertTo-CanonicalAddress -Address $_ })
            }
        }
    }
}

Function Get-Difference {
    # Lists compare as sets: peers and ports in any order are the same rule.
    param([System.Collections.IDictionary]$Current, [System.Collections.IDictionary]$Wanted)

    foreach ($key in $Wanted.Keys) {
        $have = (@($Current[$key]) | ForEach-Object { [string]$_ } | Sort-Object -Unique) -join ','
        $want = (@($Wanted[$key]) | ForEach-Object { [string]$_ } | Sort-Object -Unique) -join ','
        if ($have -ne $want) {
            $key
        }
    }
}

Function ConvertTo-RuleParameter {
    # A record's properties as cmdlet parameters. Empty values are left out because the
    # cmdlets refuse an empty -Description and the like.
    param([System.Collections.IDictionary]$Properties, [switch]$ForSet)

    $parameters = @{}
    foreach ($key in $Properties.Keys) {
        $value = $Properties[$key]
        if ($null -eq $value -or [string]::IsNullOrEmpty((@($value) -join ''))) {
            continue
        }
        if ($key -eq 'Profile') {
            $value = @($value) -join ', '
        }
        elseif ($value -is [System.Collections.IList]) {
            $value = [string[]]@($value | ForEach-Object { [string]$_ })
        }
        if ($ForSet -and $key -eq 'DisplayName') {
            $key = 'NewDisplayName'
        }
        $parameters[$key] = $value
    }
    return $parameters
}

Function Test-PortCovered {
    param([object]$Value, [int]$Port)

    foreach ($item in @($Value)) {
        foreach ($part in ([string]$item).Split(',')) {
            $text = $part.Trim()
            if ($text -eq 'Any') {
                return $true
            }
            $bounds = $text.Split('-')
            $low = 0
            $high = 0
            if (-not [int]::TryParse($bounds[0], [ref]$low)) {
                continue
            }
            if ($bounds.Count -gt 1) {
                if (-not [int]::TryParse($bounds[1], [ref]$high)) {
                    continue
                }
            }
            else {
                $high = $low
            }
            if ($Port -ge $low -and $Port -le $high) {
                return $true
            }
        }
    }
    return $false
}

Function Test-AllowsManagementPort {
    param([System.Collections.IDictionary]$Properties, [int]$Port, [switch]$FromAnywhere)

    $allows = $Properties.Direction -eq 'Inbound' -and $Properties.Action -eq 'Allow' -and
        $Properties.Enabled -eq 'True' -and $Properties.Protocol -eq 'TCP' -and
        (Test-PortCovered -Value $Properties.LocalPort -Port $Port)
    if ($allows -and $FromAnywhere) {
        $allows = (@($Properties.RemoteAddress) -join ',') -eq 'Any'
    }
    return $allows
}

Function Test-OtherAllowRule {
    # An enabled inbound allow rule outside the group (WinRM's and OpenSSH's own rules,
    # for example) keeps the management port open whatever happens to the group.
    param([string]$Group, [int]$Port)

    $filters = @(Get-NetFirewallPortFilter -Protocol TCP -PolicyStore ActiveStore -ErrorAction SilentlyContinue |
            Where-Object { Test-PortCovered -Value $_.LocalPort -Port $Port })
    foreach ($filter in $filters) {
        $rule = $filter | Get-NetFirewallRule -PolicyStore ActiveStore -ErrorAction SilentlyContinue
        if ($rule -and $rule.Group -ne $Group -and [string]$rule.Enabled -eq 'True' -and
            [string]$rule.Direction -eq 'Inbound' -and [string]$rule.Action -eq 'Allow') {
            return $true
        }
    }
    return $false
}

Function Undo-Change {
    # Puts back what this run changed, newest first. Returns the errors it met.
    param([System.Collections.IList]$Done)

    for ($index = $Done.Count - 1; $index -ge 0; $index--) {
        $step = $Done[$index]
        try {
            if ($step.kind -eq 'added') {
                Remove-NetFirewallRule -Name $step.name -PolicyStore PersistentStore -Confirm:$false -ErrorAction Stop -WhatIf:$check
            }
            elseif ($step.kind -eq 'updated') {
                $parameters = ConvertTo-RuleParameter -Properties $step.before -ForSet
                Set-NetFirewallRule -Name $step.name -PolicyStore PersistentStore @parameters -ErrorAction Stop -WhatIf:$check
            }
            else {
                $parameters = ConvertTo-RuleParameter -Properties $step.before
                $null = New-NetFirewallRule -Name $step.name -Group $group -PolicyStore PersistentStore @parameters -ErrorAction Stop -WhatIf:$check
            }
        }
        catch {
            "{0} {1}: {2}" -f $step.kind, $step.name, $_.Exception.Message
        }
    }
}

try {
    $current = @(Get-OwnedRule -Group $group)
    $profilesEnabled = @(Get-NetFirewallProfile -PolicyStore ActiveStore |
            Where-Object { [string]$_.Enabled -eq 'True' } | ForEach-Object { [string]$_.Name })
}
catch {
    $module.FailJson("Reading the firewall rules of group '$group' failed: $($_.Exception.Message)", $_)
}

$managementPorts = [System.Collections.Generic.List[int]]@()
foreach ($port in $module.Params.management_ports) {
    $managementPorts.Add([int]$port)
}
if ($env:SSH_CONNECTION) {
    # "client_ip client_port server_ip server_port": the server port is ours.
    $fields = $env:SSH_CONNECTION.Split(' ')
    $sshPort = 0
    if ($fields.Count -ge 4 -and [int]::TryParse($fields[3], [ref]$sshPort) -and -not $managementPorts.Contains($sshPort)) {
        $managementPorts.Add($sshPort)
    }
}

$currentByName = @{}
foreach ($found in $current) {
    $currentByName[$found.name] = $found
}
$wantedByName = @{}
foreach ($want in $desired) {
    $wantedByName[$want.name] = $want
}

$toAdd = [System.Collections.Generic.List[object]]@()
$toUpdate = [System.Collections.Generic.List[object]]@()
$toRemove = [System.Collections.Generic.List[object]]@()
foreach ($want in $desired) {
    $have = $currentByName[$want.name]
    if ($null -eq $have) {
        $toAdd.Add($want)
        continue
    }
    $differences = @(Get-Difference -Current $have.properties -Wanted $want.properties)
    if ($differences.Count -gt 0) {
        $toUpdate.Add(@{ name = $want.name; want = $want; have = $have; differences = $differences })
    }
}
foreach ($found in $current) {
    if (-not $wantedByName.ContainsKey($found.name)) {
        $toRemove.Add($found)
    }
}

if ($toAdd.Count -gt 0) {
    $names = @($toAdd | ForEach-Object { $_.name })
    $clash = @(Get-NetFirewallRule -Name $names -PolicyStore PersistentStore -ErrorAction SilentlyContinue)
    if ($clash.Count -gt 0) {
        $taken = ($clash | ForEach-Object { "$($_.Name) (group '$($_.Group)')" }) -join ', '
        $module.FailJson("Rules named $taken already exist outside group '$group'. They are not ours to change: rename or remove them, or use another group.")
    }
}

# Lockout guard: an owned rule that lets the management connection in may only go if
# the desired rules keep the port open from anywhere or a rule outside the group does.
$risky = [System.Collections.Generic.List[string]]@()
foreach ($port in $managementPorts) {
    $kept = @($desired | Where-Object { Test-AllowsManagementPort -Properties $_.properties -Port $port -FromAnywhere })
    if ($kept.Count -gt 0) {
        continue
    }
    $losing = @(@($toRemove) + @($toUpdate | ForEach-Object { $_.have }) |
            Where-Object { Test-AllowsManagementPort -Properties $_.properties -Port $port })
    if ($losing.Count -gt 0 -and -not (Test-OtherAllowRule -Group $group -Port $port)) {
        $risky.Add("TCP $port (rules $(($losing | ForEach-Object { $_.name }) -join ', '))")
    }
}
if ($risky.Count -gt 0) {
    $module.FailJson(("Refusing to remove or change owned rules that let the management connection in, with no other enabled inbound allow rule outside group '{0}' for the port: {1}. " +
            "Keep a rule for the port in 'rules', or allow it outside the group first.") -f $group, ($risky -join '; '))
}

$done = [System.Collections.Generic.List[object]]@()
try {
    # Add first and remove last, so that a failure midway never leaves fewer openings.
    foreach ($want in $toAdd) {
        $parameters = ConvertTo-RuleParameter -Properties $want.properties
        $null = New-NetFirewallRule -Name $want.name -Group $group -PolicyStore PersistentStore @parameters -ErrorAction Stop -WhatIf:$check
        $done.Add(@{ kind = 'added'; name = $want.name })
    }
    foreach ($update in $toUpdate) {
        $parameters = ConvertTo-RuleParameter -Properties $update.want.properties -ForSet
        Set-NetFirewallRule -Name $update.name -PolicyStore PersistentStore @parameters -ErrorAction Stop -WhatIf:$check
        $done.Add(@{ kind = 'updated'; name = $update.name; before = $update.have.properties })
    }
    foreach ($found in $toRemove) {
        Remove-NetFirewallRule -Name $found.name -PolicyStore PersistentStore -Confirm:$false -ErrorAction Stop -WhatIf:$check
        $done.Add(@{ kind = 'removed'; name = $found.name; before = $found.properties })
    }
}
catch {
    $failure = $_
    $undoErrors = @(Undo-Change -Done $done)
    $outcome = "The rules changed before the failure were put back."
    if ($undoErrors.Count -gt 0) {
        $outcome = "Putting back the earlier changes failed too: $($undoErrors -join '; ')"
    }
    $module.Result.current = $current
    $module.FailJson("Applying the rules of group '$group' failed: $($failure.Exception.Message) $outcome", $failure)
}

$module.Result.changed = ($toAdd.Count + $toUpdate.Count + $toRemove.Count) -gt 0
$module.Result.current = $current
$module.Result.added = @($toAdd | ForEach-Object { $_.name })
$module.Result.updated = @($toUpdate | ForEach-Object { @{ name = $_.name; differences = $_.differences } })
$module.Result.removed = @($toRemove | ForEach-Object { $_.name })
$module.Result.profiles_enabled = $profilesEnabled
$module.Result.management_ports = @($managementPorts)
$module.ExitJson()
