# Install i2v into .venv: the CUDA build of PyTorch, i2v with the diffusion extra, then check.
#   powershell -ExecutionPolicy Bypass -File scripts\windows\install.ps1 [-Cpu] [-Cuda cu128]
param([switch]$Cpu, [string]$Cuda = "cu128")
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
$Venv = if ($env:I2V_VENV) { $env:I2V_VENV } else { "$Root\.venv" }
$Python = "$Venv\Scripts\python.exe"
$Index = if ($Cpu) { "https://download.pytorch.org/whl/cpu" } else { "https://download.pytorch.org/whl/$Cuda" }

if (-not (Test-Path $Python)) {
    py -3 -m venv $Venv
    if ($LASTEXITCODE) { exit $LASTEXITCODE }
}
& $Python -m pip install --upgrade pip
if ($LASTEXITCODE) { exit $LASTEXITCODE }
& $Python -m pip install torch --index-url $Index
if ($LASTEXITCODE) { exit $LASTEXITCODE }
& $Python -m pip install -e "${Root}[diffusion]"
if ($LASTEXITCODE) { exit $LASTEXITCODE }
# The doctor says what is still missing (driver, sysmem fallback, weights); a FAIL is not an install error.
& "$Venv\Scripts\i2v.exe" doctor
