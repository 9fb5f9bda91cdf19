namespace KtuGate.Diagnostics;

/// <summary>Every diagnostic KtuGate can report: the one place that defines codes, titles, messages and help.</summary>
/// <remarks>Ranges: 1xxx policy, 2xxx model and manifest, 3xxx verdict, 4xxx unlearning, 5xxx environment, 6xxx provenance, 9xxx internal.</remarks>
public static class DiagnosticCodes
{
    private const DiagnosticSeverity E = DiagnosticSeverity.Error;
    private const DiagnosticSeverity W = DiagnosticSeverity.Warning;
    private const DiagnosticSeverity I = DiagnosticSeverity.Info;

    /// <summary>KTU1001: the policy file is not valid JSON.</summary>
    public static readonly DiagnosticDescriptor PolicyJsonInvalid = new("KTU1001", E, "Policy is not valid JSON",
        "Policy is not valid JSON: {0}",
        "The policy file must be JSON (comments and trailing commas are allowed). Fix the syntax at the position shown.");

    /// <summary>KTU1002: a property the policy format does not define.</summary>
    public static readonly DiagnosticDescriptor PolicyUnknownProperty = new("KTU1002", E, "Unknown policy property",
        "Unknown property '{0}' in {1}; expected one of: {2}",
        "Policies are checked strictly so that a misspelt threshold cannot be silently ignored. Use a property from the schema (policies/ktu-policy.schema.json).");

    /// <summary>KTU1003: a required property is missing.</summary>
    public static readonly DiagnosticDescriptor PolicyMissingProperty = new("KTU1003", E, "Missing policy property",
        "{0} is missing required property '{1}'",
        "Add the property; the schema (policies/ktu-policy.schema.json) lists what each object requires.");

    /// <summary>KTU1004: a value of the wrong JSON type or an unknown enumeration value.</summary>
    public static readonly DiagnosticDescriptor PolicyInvalidValue = new("KTU1004", E, "Invalid policy value",
        "'{0}' must be {1}, not {2}",
        "Use a value of the kind the schema gives for this property.");

    /// <summary>KTU1005: a clause or parent names a concept the policy does not define.</summary>
    public static readonly DiagnosticDescriptor PolicyUnknownConcept = new("KTU1005", E, "Unknown concept",
        "Concept '{0}' is not defined in this policy's 'concepts'{1}",
        "Every concept a clause or a 'parent' names must be defined under 'concepts' (by its key, not an alias).");

    /// <summary>KTU1006: a threshold outside its range.</summary>
    public static readonly DiagnosticDescriptor PolicyThresholdOutOfRange = new("KTU1006", E, "Threshold out of range",
        "'{0}' is {1}, but must be between {2} and {3}",
        "Accuracies, drops and confidence levels are fractions: 0.05 means 5%.");

    /// <summary>KTU1007: an exemplar glob matches no file.</summary>
    public static readonly DiagnosticDescriptor PolicyGlobMatchesNothing = new("KTU1007", E, "Exemplar glob matches nothing",
        "Exemplar pattern '{0}' matches no file under '{1}'",
        "Exemplar globs are relative to the policy file's folder. Check the path and the file extension; an empty glob would make a clause pass on no evidence.");

    /// <summary>KTU1008: an exemplar glob that would leave the policy's folder.</summary>
    public static readonly DiagnosticDescriptor PolicyGlobEscapes = new("KTU1008", E, "Exemplar glob leaves the policy's folder",
        "Exemplar pattern '{0}' leaves the policy's folder '{1}'",
        "Exemplar globs must stay inside the folder that holds the policy (no rooted paths, no '..' above it), so a policy cannot read files it does not own. Move the exemplars below the policy, or the policy above them.");

    /// <summary>KTU1009: the parent/child hierarchy has a cycle or a concept is defined twice.</summary>
    public static readonly DiagnosticDescriptor PolicyHierarchyInvalid = new("KTU1009", E, "Invalid concept hierarchy",
        "{0}",
        "Concepts form a tree from fine to coarse: each concept is defined once and following 'parent' never returns to where it started.");

    /// <summary>KTU1010: the policy file cannot be read.</summary>
    public static readonly DiagnosticDescriptor PolicyUnreadable = new("KTU1010", E, "Policy cannot be read",
        "Policy cannot be read: {0}",
        "Check that the file named by the KtuPolicy item (or on the command line) exists and is readable.");

    /// <summary>KTU1011: a schema version this build does not understand.</summary>
    public static readonly DiagnosticDescriptor PolicyVersionUnsupported = new("KTU1011", E, "Unsupported policy version",
        "Policy format version {0} is not supported; this KtuGate reads version {1}",
        "Set \"ktuPolicy\": 1, or update KtuGate.");

    /// <summary>KTU1012: a clause's concept has no exemplars to probe with.</summary>
    public static readonly DiagnosticDescriptor PolicyConceptWithoutExemplars = new("KTU1012", E, "Concept has no exemplars",
        "Concept '{0}' is named by a clause but has no 'exemplars' to probe it with",
        "A clause is judged on the concept's exemplars; give it at least one exemplar glob.");

    /// <summary>KTU1013: a clause with no threshold.</summary>
    public static readonly DiagnosticDescriptor PolicyClauseWithoutThreshold = new("KTU1013", E, "Clause has no threshold",
        "This {0} clause sets no threshold; set {1}",
        "A clause that checks nothing would always pass. Give it at least one threshold.");

    /// <summary>KTU1014: two clauses check the same concept at the same level in opposite directions.</summary>
    public static readonly DiagnosticDescriptor PolicyContradiction = new("KTU1014", E, "Contradictory clauses",
        "Concept '{0}' at {1} level is both to be forgotten and to be retained",
        "A concept cannot be forgotten and retained at the same level. Retain its coarse parent instead (level \"coarse\").");

    /// <summary>KTU1015: a policy object names the same property twice.</summary>
    public static readonly DiagnosticDescriptor PolicyDuplicateProperty = new("KTU1015", E, "Duplicate policy property",
        "Duplicate property: {0}",
        "A JSON object may name a property once. JSON readers disagree about which of two wins (most take the last), so a policy with a duplicate (a second 'maxAccuracy', a second 'forget' list, a concept defined twice) can mean something else than what its reviewer read. Remove one of them.");

    /// <summary>KTU1016: a policy that is not valid UTF-8 text or escapes half a surrogate pair.</summary>
    public static readonly DiagnosticDescriptor PolicyInvalidText = new("KTU1016", E, "Policy is not valid text",
        "Policy is not valid Unicode text: {0}",
        "Policies are UTF-8 text (a byte order mark is allowed). Save the file as UTF-8, and write a character outside the Basic Multilingual Plane as itself or as both halves of its surrogate pair (\\ud83d\\ude00), never one half alone.");

    /// <summary>KTU1017: an exemplar glob meets a symbolic link it must not follow.</summary>
    public static readonly DiagnosticDescriptor PolicyGlobMeetsLink = new("KTU1017", E, "Exemplar glob meets a symbolic link",
        "Exemplar pattern '{0}' reaches the symbolic link '{1}': {2}; refused",
        "Exemplar globs never follow a link to a folder (it could lead out of the policy's folder, or round in a loop) and never take a linked file whose real path is outside the policy's folder (or that does not exist). A gate must not silently probe something else, so the link is an error: replace it with the files themselves, or narrow the pattern so it does not reach the link.");

    /// <summary>KTU1018: an exemplar glob matches more files than a glob may.</summary>
    public static readonly DiagnosticDescriptor PolicyGlobTooManyFiles = new("KTU1018", E, "Exemplar glob matches too many files",
        "Exemplar pattern '{0}' matches more than {1} files under '{2}'; refused",
        "One exemplar glob may match at most 100,000 files, so that a mistaken pattern (such as '**' at the top of a large tree) cannot exhaust memory or time. Narrow the pattern, or split the exemplars across several globs.");

    /// <summary>KTU1019: a folder an exemplar glob has to list cannot be read.</summary>
    public static readonly DiagnosticDescriptor PolicyGlobFolderUnreadable = new("KTU1019", E, "Exemplar folder cannot be read",
        "Exemplar pattern '{0}' cannot list folder '{1}': {2}",
        "A glob that skipped a folder it cannot read would match fewer exemplars than it says. Make the folder readable by the user the build runs as, or narrow the pattern.");

    /// <summary>KTU2001: the model artifact does not exist.</summary>
    public static readonly DiagnosticDescriptor ModelNotFound = new("KTU2001", E, "Model not found",
        "Model artifact '{0}' does not exist",
        "Build or copy the artifact before the gate runs, or fix the KtuModel item's path.");

    /// <summary>KTU2002: ONNX Runtime cannot load the model.</summary>
    public static readonly DiagnosticDescriptor ModelUnloadable = new("KTU2002", E, "Model cannot be loaded",
        "ONNX Runtime cannot load the model: {0}",
        "The file is not a valid ONNX model (it may be truncated, corrupt, or not ONNX at all). Re-export it.");

    /// <summary>KTU2003: the manifest file is not valid JSON.</summary>
    public static readonly DiagnosticDescriptor ManifestJsonInvalid = new("KTU2003", E, "Manifest is not valid JSON",
        "Manifest is not valid JSON: {0}",
        "The manifest must be JSON; comments and trailing commas are allowed. Fix the syntax at the position shown.");

    /// <summary>KTU2016: the manifest file cannot be read.</summary>
    public static readonly DiagnosticDescriptor ManifestUnreadable = new("KTU2016", E, "Manifest cannot be read",
        "Manifest cannot be read: {0}",
        "Each model needs a manifest: MODEL.ktu.json beside the artifact, or the file the KtuModel item's Manifest metadata (or --manifest) names.");

    /// <summary>KTU2004: the manifest's content is invalid.</summary>
    public static readonly DiagnosticDescriptor ManifestInvalid = new("KTU2004", E, "Invalid manifest",
        "{0}",
        "See the manifest format in the README: kind, input, preprocess, output, labels and coarse groups.");

    /// <summary>KTU2011: a property the manifest format does not define.</summary>
    public static readonly DiagnosticDescriptor ManifestUnknownProperty = new("KTU2011", E, "Unknown manifest property",
        "Unknown property '{0}' in {1}; expected one of: {2}",
        "Manifests are checked strictly so that a misspelt setting cannot be silently ignored. See the manifest format in the README.");

    /// <summary>KTU2012: a required manifest property is missing.</summary>
    public static readonly DiagnosticDescriptor ManifestMissingProperty = new("KTU2012", E, "Missing manifest property",
        "{0} is missing required property '{1}'",
        "Add the property; the README's manifest section lists what each object requires.");

    /// <summary>KTU2013: a manifest value of the wrong JSON type or out of range.</summary>
    public static readonly DiagnosticDescriptor ManifestInvalidValue = new("KTU2013", E, "Invalid manifest value",
        "'{0}' must be {1}, not {2}",
        "Use a value of the kind the README's manifest section gives for this property.");

    /// <summary>KTU2014: a manifest number outside its range.</summary>
    public static readonly DiagnosticDescriptor ManifestValueOutOfRange = new("KTU2014", E, "Manifest value out of range",
        "'{0}' is {1}, but must be between {2} and {3}",
        "Use a value inside the range the README's manifest section gives.");

    /// <summary>KTU2005: the manifest's input does not match the model.</summary>
    public static readonly DiagnosticDescriptor ManifestInputMismatch = new("KTU2005", E, "Manifest input does not match the model",
        "{0}",
        "The manifest must name an input the model has, with the shape ONNX Runtime reports (the batch dimension may be symbolic).");

    /// <summary>KTU2006: the manifest's output does not match the model.</summary>
    public static readonly DiagnosticDescriptor ManifestOutputMismatch = new("KTU2006", E, "Manifest output does not match the model",
        "{0}",
        "The manifest must name an output the model has, with one score per label.");

    /// <summary>KTU2007: a policy concept the model has no label or coarse group for.</summary>
    public static readonly DiagnosticDescriptor ConceptNotInModel = new("KTU2007", E, "Concept unknown to the model",
        "Concept '{0}' (aliases: {1}) matches no label or coarse group of model '{2}'",
        "A concept is matched to the model by its key or one of its aliases against the manifest's labels and coarse groups. Add an alias, or fix the manifest.");

    /// <summary>KTU2008: an exemplar that is not a readable image.</summary>
    public static readonly DiagnosticDescriptor ExemplarUnreadable = new("KTU2008", E, "Exemplar is not a readable image",
        "Exemplar '{0}' cannot be decoded as an image: {1}",
        "Exemplars for an image model must be complete PNG, JPEG, WebP, BMP or GIF files of at most 64 megapixels (8192 x 8192).");

    /// <summary>KTU2009: the policy's hierarchy disagrees with the model's coarse groups.</summary>
    public static readonly DiagnosticDescriptor HierarchyMismatch = new("KTU2009", W, "Policy hierarchy differs from the model's",
        "Policy says '{0}' belongs to '{1}', but the model's manifest puts it in '{2}'; coarse accuracy uses the manifest",
        "Make the policy's 'parent' and the manifest's coarse groups agree, so that coarse accuracy measures what the policy means.");

    /// <summary>KTU2010: the baseline artifact cannot be used.</summary>
    public static readonly DiagnosticDescriptor BaselineInvalid = new("KTU2010", E, "Baseline model cannot be used",
        "Baseline model '{0}': {1}",
        "A baseline must run with the same manifest as the model under test.");

    /// <summary>KTU2015: a clause measures a concept at a level the model does not have for it.</summary>
    public static readonly DiagnosticDescriptor LevelNotInModel = new("KTU2015", E, "Level not measurable",
        "Concept '{0}' cannot be measured at {1} level in model '{2}': {3}",
        "A fine clause needs a concept that matches a model label; a coarse clause needs a label in a coarse group of the manifest, or a concept that names a coarse group.");

    /// <summary>KTU2017: the text tower a dual-encoder manifest names cannot be used.</summary>
    public static readonly DiagnosticDescriptor TextTowerInvalid = new("KTU2017", E, "Text tower cannot be used",
        "Text tower: {0}",
        "A dual encoder's manifest names its text tower: an ONNX model taking input_ids and attention_mask, and a BERT WordPiece vocabulary. Paths are relative to the manifest.");

    /// <summary>KTU2018: a general-probe folder that names no label.</summary>
    public static readonly DiagnosticDescriptor GeneralLabelUnknown = new("KTU2018", E, "General probe folder names no label",
        "General probe exemplars in folder '{0}' match no model label and no concept of the policy bound to one; labels: {1}",
        "The general probe set's files sit in folders named after the model's labels (general/sandal/*.png) or after the policy's concepts (their keys or aliases) that bind to a label; the folder name decides each exemplar's label.");

    /// <summary>KTU2019: a manifest object names the same property twice.</summary>
    public static readonly DiagnosticDescriptor ManifestDuplicateProperty = new("KTU2019", E, "Duplicate manifest property",
        "Duplicate property: {0}",
        "A JSON object may name a property once. JSON readers disagree about which of two wins (most take the last), so a manifest with a duplicate (a second 'labels' list, a coarse group defined twice) can mean something else than what its reviewer read. Remove one of them.");

    /// <summary>KTU2020: a manifest that is not valid UTF-8 text or escapes half a surrogate pair.</summary>
    public static readonly DiagnosticDescriptor ManifestInvalidText = new("KTU2020", E, "Manifest is not valid text",
        "Manifest is not valid Unicode text: {0}",
        "Manifests are UTF-8 text (a byte order mark is allowed). Save the file as UTF-8, and write a character outside the Basic Multilingual Plane as itself or as both halves of its surrogate pair (\\ud83d\\ude00), never one half alone.");
    /// <summary>KTU2025: an external-data entry ONNX does not define, defines twice, or that cannot be a file on disk.</summary>
    public static readonly DiagnosticDescriptor ExternalDataEntryInvalid = new("KTU2025", E, "Invalid external-data entry",
        "External data of tensor '{0}' is refused: {1}",
        "ONNX external data is described by the keys location (a relative path in the model's folder), offset and length (non-negative whole numbers) and checksum, each given once. Re-export the model with onnx.save_model(..., save_as_external_data=True).");

    /// <summary>KTU2026: an external-data file that is a link, a FIFO, a device, a folder or a hard-linked file.</summary>
    public static readonly DiagnosticDescriptor ExternalDataNotPlainFile = new("KTU2026", E, "External data is not a plain file",
        "External-data file '{0}'{1} is refused: {2}",
        "External-data files must be regular files inside the model's folder, reached without symbolic links, with one name only (no hard links), so a model cannot make the gate read, hang on or copy a file it does not own. Copy the real file beside the model (a build that hard-links copies, e.g. MSBuild's CreateHardLinksForCopy* settings, makes such links: gate the original or copy the file).");

    /// <summary>KTU2027: an external-data offset or length outside the file, or not the tensor's size.</summary>
    public static readonly DiagnosticDescriptor ExternalDataOutOfRange = new("KTU2027", E, "External data out of range",
        "External data of tensor '{0}' in '{1}' is refused: {2}",
        "The offset and length of a tensor's external data must lie inside its file and match the bytes its shape and type need. The file may be truncated or empty: copy it again, or re-export the model.");

    /// <summary>KTU2028: a model that declares more memory than the engine may use.</summary>
    public static readonly DiagnosticDescriptor ModelTooLarge = new("KTU2028", E, "Model exceeds the memory limit",
        "{0} needs {1} bytes, more than the memory limit of {2} bytes; the model was not run",
        "The gate refuses a model whose initializers, inputs and outputs (at the batch size) or constant shapes need more memory than the engine's limit (ktu --max-memory; default: the machine's memory). Raise the limit if the model is genuine, or lower the batch size.");

    /// <summary>KTU2040: a file the gate must read and digest cannot be read as a regular file.</summary>
    public static readonly DiagnosticDescriptor InputUnreadable = new("KTU2040", E, "Input cannot be read",
        "'{0}' cannot be read: {1}; the model was not judged",
        "Every file a gate run reads (exemplars, general probe files, manifests, text tower files, policies) is digested into the report and the build's inputs list, and must be a regular, readable file. Replace a FIFO, device or folder by the file meant, or fix its permissions.");

    /// <summary>KTU2041: a text-embedding model's encoder (the artifact with its tokenizer) cannot be used.</summary>
    public static readonly DiagnosticDescriptor TextEncoderInvalid = new("KTU2041", E, "Text encoder cannot be used",
        "Text encoder: {0}",
        "A text-embedding manifest names its tokenizer (type wordpiece and a BERT WordPiece vocabulary, relative to the manifest) and the artifact's inputs (token ids and attention mask, int64) and output (token states [batch, tokens, dim] or pooled [batch, dim]).");

    /// <summary>KTU2042: a fact file that cannot be read, or a line of it that is not a valid fact record.</summary>
    public static readonly DiagnosticDescriptor FactRecordInvalid = new("KTU2042", E, "Invalid fact record",
        "Fact: {0}",
        "A fact file is JSON Lines: one object per line, {\"relation\": ..., \"subject\": ..., \"aliases\": [...], \"object\": ...}, its relation defined in the manifest's relations file. Fix the line shown.");

    /// <summary>KTU2043: a relations file that cannot be read or defines a relation wrongly.</summary>
    public static readonly DiagnosticDescriptor RelationsInvalid = new("KTU2043", E, "Invalid relations file",
        "Relations: {0}",
        "The relations file is one JSON object: per relation, subjectTemplates (each with {subject} once), optional paraphrases, objectTemplate (with {object} once) and coarse (the relation that gives an object's parent).");

    /// <summary>KTU2060: a causal language model (the decoder with its tokenizer) that does not match its manifest or cannot be run.</summary>
    public static readonly DiagnosticDescriptor LanguageModelInvalid = new("KTU2060", E, "Language model cannot be used",
        "Language model: {0}",
        "A causal-lm manifest names its tokenizer (type sentencepiece and a SentencePiece .model, relative to the manifest) and the decoder's inputs as Hugging Face Optimum exports them: input_ids and attention_mask (int64), position_ids (int64, optional), past_key_values.{layer}.key|value (float) in, logits [batch, sequence, vocabulary] and present.{layer}.key|value out. Fix the names in 'modelInputs' or re-export the model.");

    /// <summary>KTU2061: a question/answer file that cannot be read, or a line of it that is not a valid record.</summary>
    public static readonly DiagnosticDescriptor QaRecordInvalid = new("KTU2061", E, "Invalid question/answer record",
        "Question/answer: {0}",
        "A question/answer file is JSON Lines: one object per line, {\"subject\": ..., \"question\": ..., \"answer\": ..., \"paraphrases\": [...], \"perturbed\": [...], \"coarse\": {\"question\": ..., \"answer\": ...}} (paraphrases, perturbed and coarse optional). Fix the line shown.");

    /// <summary>KTU2065: a causal-lm manifest's retain model (the reference for forget quality) that is missing, cannot be loaded or is not a decoder of the same tokenizer.</summary>
    public static readonly DiagnosticDescriptor RetainModelInvalid = new("KTU2065", E, "Retain model cannot be used",
        "Retain model: {0}",
        "'forgetQuality.retainModel' names the model trained without the forget set (relative to the manifest), against which TOFU's forget quality is measured: an ONNX decoder with the same inputs ('modelInputs') and the same tokenizer as the artifact. Fix the path or export the retain model with the artifact's tokenizer.");

    /// <summary>KTU2066: a causal-lm manifest names a retain model but no forget record of the policies has perturbed answers, so forget quality cannot be measured.</summary>
    public static readonly DiagnosticDescriptor ForgetQualityUnmeasured = new("KTU2066", E, "Forget quality cannot be measured",
        "Forget quality: {0}",
        "Forget quality compares the truth ratios of the forget clauses' records (each needs 'perturbed' wrong answers) on the model and on the retain model. Add 'perturbed' answers to the forget concepts' question/answer records, or drop 'forgetQuality' from the manifest.");

    /// <summary>KTU2070: a dual encoder's <c>labelPrompts</c> or <c>coarsePrompts</c> names no label or group of the manifest.</summary>
    public static readonly DiagnosticDescriptor PromptNamesNothing = new("KTU2070", E, "Prompts for an unknown label or group",
        "'{0}' gives prompts for '{1}', which is not {2} of this manifest; it has: {3}",
        "Each name under 'labelPrompts' must be one of 'labels', and each under 'coarsePrompts' one of the groups of 'coarse', spelt exactly as there. Prompts for a name the model does not have would never be used, and a label whose name is misspelt there would silently be worded by the templates instead. Fix the name, or add the label or group.");

    /// <summary>KTU2071: a label's or group's own prompt that is empty, holds a template's placeholder, or is listed twice.</summary>
    public static readonly DiagnosticDescriptor PromptWordingInvalid = new("KTU2071", E, "Invalid prompt",
        "Prompt for '{0}' in '{1}' {2}",
        "A label's (or group's) own prompts are the whole texts its text embedding is made from, as the model was trained with them: e.g. \"labelPrompts\": { \"dress\": [\"a photo of a dress\"] }. Each must be non-empty text without the '{}' of the 'prompts' templates, each once, and a name listed there needs at least one.");

    /// <summary>KTU3001: a concept that must be forgotten is still known.</summary>
    public static readonly DiagnosticDescriptor ConceptStillKnown = new("KTU3001", E, "Forbidden knowledge still present",
        "'{0}' is still known: {1} accuracy {2} (95% CI {3}-{4}, n={5}) > allowed {6}",
        "The model still recognises a concept the policy says it must not know; the upper bound of the 95% confidence interval is above the allowed accuracy. Remediate the artifact (KtuGateMode=Remediate, when the policy allows it) or retrain without the concept.");

    /// <summary>KTU3002: a concept that must be retained fell below its minimum.</summary>
    public static readonly DiagnosticDescriptor RetentionLost = new("KTU3002", E, "Retained knowledge lost",
        "'{0}' is no longer known well enough: {1} accuracy {2} (95% CI {3}-{4}, n={5}) < required {6}",
        "A concept the policy says to retain is recognised less often than its 'minAccuracy'.");

    /// <summary>KTU3003: a retained concept dropped more than allowed against the baseline.</summary>
    public static readonly DiagnosticDescriptor RetentionDropped = new("KTU3003", E, "Retained knowledge dropped",
        "'{0}' {1} accuracy dropped by {2} from the {7}'s {3} to {4} (n={5}) > allowed drop {6}",
        "A concept the policy says to retain is recognised less often than in the original by more than 'maxDrop'. The original is the KtuModel's Baseline (--baseline) in Verify, and the unedited artifact measured in the same run in Remediate.");

    /// <summary>KTU3004: a drop threshold could not be checked for want of a baseline.</summary>
    /// <remarks>An error: a threshold that was not checked must not pass the gate (the run's outcome is insufficient evidence, not a violation).</remarks>
    public static readonly DiagnosticDescriptor BaselineMissing = new("KTU3004", E, "No baseline for a threshold",
        "'{0}': {1} is measured against a baseline model, and none was given; it was not checked, so the gate cannot pass",
        "Give the KtuModel item a Baseline=\"...\" (or --baseline on the command line) to compare against, or remove the threshold from the policy. A threshold that was not checked never passes.")
    {
        Category = DiagnosticCategory.Evidence,
    };

    /// <summary>KTU3005: an unlearning metric misses its threshold.</summary>
    public static readonly DiagnosticDescriptor MetricMissed = new("KTU3005", E, "Metric misses its threshold",
        "Policy '{0}': {1} is {2}, {3} {4}",
        "The policy's 'metrics' thresholds (quality, utility, Q-U, general accuracy) are judged on the measured values; see the README for how each is computed.");

    /// <summary>KTU3006: a forget clause (or perturbed-accuracy or wording-recall bound) whose measured rate is within its threshold but whose interval is too wide to show it.</summary>
    public static readonly DiagnosticDescriptor InsufficientEvidence = new("KTU3006", E, "Insufficient evidence",
        "'{0}' is not shown forgotten: {1} accuracy {2} (95% CI {3}-{4}, n={5}) is within the allowed {6}, but its upper bound is not: insufficient evidence, {7}",
        "A forget clause (and maxPerturbedAccuracy, maxWordingRecall) passes only when the upper bound of the 95% interval is at most its threshold; with few exemplars even none recognised leaves a wide interval (0 of 20 has an upper bound of 0.161). Add exemplars (the message says how many), or allow a higher accuracy. The gate does not pass what it did not show.")
    {
        Category = DiagnosticCategory.Evidence,
    };

    /// <summary>KTU3007: a threshold that no result on the policy's exemplars could meet.</summary>
    public static readonly DiagnosticDescriptor ThresholdUnreachable = new("KTU3007", E, "Threshold can never pass",
        "{0} can never pass with {1} exemplars: even none recognised has a 95% upper bound of {2} > allowed {3}; {4}",
        "Upper-bound thresholds (maxAccuracy, maxPerturbedAccuracy, maxWordingRecall) need enough exemplars for the interval to fit under them: with n exemplars and none recognised the upper bound is z²/(n + z²), so an allowed accuracy m needs n ≥ z²(1 − m)/m (73 for 0.05). Add exemplars, or allow a higher accuracy.")
    {
        Category = DiagnosticCategory.Policy,
    };

    /// <summary>KTU3008: a policy bounds the linear probe on a model whose probes record no features at an edit site for the probe to read.</summary>
    public static readonly DiagnosticDescriptor ProbeBoundNotJudged = new("KTU3008", E, "Linear probe bound cannot be judged",
        "Policy '{0}' bounds the linear probe (metrics.maxLinearProbeAccuracy {1}), but a '{2}' model's probes record no features at an edit site for the probe to read; the bound is not judged and the model does not pass",
        "metrics.maxLinearProbeAccuracy bounds what a linear probe reads from the features just below the edit site: the image kinds (classifier, dual-encoder) record those features while they probe. The text-embedding and causal-lm kinds probe whole texts and generated answers and record none, so the bound cannot be measured on them, and a gate never passes a threshold it did not measure. Remove the bound from a policy for such a model; a text encoder's remediation report carries a recovery profile instead, a linear probe read at each block of the encoder.");

    /// <summary>KTU4001: no remediation met the policy's thresholds.</summary>
    public static readonly DiagnosticDescriptor RemediationFailed = new("KTU4001", E, "Remediation failed",
        "No remediation of '{0}' met every policy threshold; tried {1}. The best candidate still violates {2} clause(s); nothing was written",
        "KtuGateMode=Remediate edits the artifact's last linear layer with the policy's methods and probes the result again. When no setting meets every threshold, loosen what the policy cannot have (a retain floor the forget exemplars make impossible, an accuracy bound too few exemplars cannot prove), add exemplars, or retrain.")
    {
        Category = DiagnosticCategory.Verdict,
    };

    /// <summary>KTU4002: an external-data path that leaves the model's folder.</summary>
    public static readonly DiagnosticDescriptor ExternalDataEscapes = new("KTU4002", E, "External data outside the model's folder",
        "Tensor '{0}' keeps its data in '{1}', outside the model's folder; refused",
        "ONNX external-data locations must be relative paths inside the folder of the model file; KtuGate will not read (or copy) files elsewhere.");

    /// <summary>KTU4003: the model has no linear layer to edit.</summary>
    public static readonly DiagnosticDescriptor NoEditSite = new("KTU4003", E, "No edit site",
        "The model has no MatMul or Gemm with a constant weight on the way to output '{0}'{1}",
        "Remediation edits a linear layer whose weight is an initializer (Gemm with alpha = beta = 1 and no transA, or MatMul, optionally followed by a bias Add).");

    /// <summary>KTU4004: the policy does not allow remediation.</summary>
    public static readonly DiagnosticDescriptor RemediationNotAllowed = new("KTU4004", W, "Remediation not allowed",
        "Policy '{0}' is violated but does not allow remediation (remedy.allowed is false); the artifact was not edited",
        "Set \"remedy\": { \"allowed\": true } to let KtuGateMode=Remediate edit the artifact for this policy; \"methods\" orders the methods to try (closed-form when empty).");

    /// <summary>KTU4005: the remediated artifact would overwrite the input.</summary>
    public static readonly DiagnosticDescriptor OutputIsInput = new("KTU4005", E, "Output would overwrite the input",
        "The remediated artifact would be written over the input '{0}'; refused",
        "Remediation never modifies its input. Set KtuOutputDir (--output-dir) to a folder other than the artifact's.");

    /// <summary>KTU4006: a linear-probe bound cannot be met by editing the site, whose inputs the probe reads.</summary>
    public static readonly DiagnosticDescriptor LinearProbeBeyondEdit = new("KTU4006", E, "Knowledge below the edit site",
        "Policy '{0}': '{1}' can still be read out below the edit site '{2}' (linear-probe accuracy {3}, upper bound {4} > allowed {5}); {6}, so the artifact was not edited",
        "metrics.maxLinearProbeAccuracy is judged on the features just below the edit site, which an edit of that layer leaves as they are. Let remediation train the layers beneath (remedy.scope \"all\", or ktu unlearn --scope all): it then adds a feature-level term that pulls the concept's features there towards its siblings'. Where that is already so, the concept is encoded too deeply for the settings tried: retrain the model without it, or drop the requirement if reading it out below the last layer is acceptable.")
    {
        Category = DiagnosticCategory.Verdict,
    };

    /// <summary>KTU4007: the remediated artifact (or its external data) could not be written.</summary>
    public static readonly DiagnosticDescriptor RemediationWriteFailed = new("KTU4007", E, "Remediated artifact cannot be written",
        "The remediated artifact '{0}' cannot be written: {1}; nothing was written",
        "Remediation writes the edited artifact and its external-data files into KtuOutputDir (--output-dir) whole or not at all. Check that the folder is writable and that nothing (a folder, a read-only file) stands where those files go.");

    /// <summary>KTU4010: a node between the trained weights and the loss that KtuGate cannot differentiate.</summary>
    public static readonly DiagnosticDescriptor GradientRuleMissing = new("KTU4010", E, "No gradient through a node",
        "Node '{0}' ({1}) lies between the trained weights and the loss, but {2}; no gradient model was built",
        "Deep remediation differentiates the ONNX graph op by op (the README lists the ops it covers) and refuses rather than give a wrong or zero gradient. Train only weights that lie above this node (nearer the loss), or export the model with covered ops and attributes.");

    /// <summary>KTU4011: the model, the weights to train or the loss cannot make a gradient model.</summary>
    public static readonly DiagnosticDescriptor GradientModelInvalid = new("KTU4011", E, "Model cannot be differentiated",
        "The model cannot be differentiated: {0}",
        "Deep remediation trains float32 or float64 initializers of a model with default-domain opset 13 or later, through a loss computed from the model's outputs. Re-export the model at opset 13 or later, or choose weights that are float initializers of the model.");

    /// <summary>KTU4012: a remedy scope entry that names nothing in the model.</summary>
    public static readonly DiagnosticDescriptor ScopeNamesNothing = new("KTU4012", E, "Scope names nothing in the model",
        "Scope entry '{0}' names no node and no float initializer (by name or prefix) of the model",
        "A scope is \"last\" (the last linear layer), \"all\" (every float weight), \"feed-forward\" (every transformer block's feed-forward projections; \"feed-forward:-1\" the last block's) or a list of node names and initializer-name prefixes (such as \"conv2\" for conv2.weight and conv2.bias). Check the names against the model (Netron shows them).");

    /// <summary>KTU4013: a remedy scope deeper than the last layer that cannot be trained.</summary>
    public static readonly DiagnosticDescriptor ScopeNotTrainable = new("KTU4013", E, "Scope cannot be trained",
        "Scope '{0}' cannot be trained: {1}; no edit of that scope was tried",
        "A scope deeper than the last layer is trained through the whole network by the gradient methods (nhl-kl, ga, ga-kl, npo-kl) on the exemplars fed as the model's inputs: the model kind must feed its exemplars as one input tensor (image kinds do), the trained weights must be float32 stored in the model, and the model must take a batch of exemplars. Narrow the scope, list a gradient method in remedy.methods, or edit only the last layer.");

    /// <summary>KTU4020: too few exemplars of a concept are held out from the edit to judge it on them.</summary>
    public static readonly DiagnosticDescriptor HeldOutTooFew = new("KTU4020", E, "Too few held-out exemplars",
        "'{0}': {1} of its {2} exemplars are held out from the edit (remedy.holdOut {3}); {4}: insufficient evidence, the artifact was not edited",
        "Remediation fits an edit on part of each concept's exemplars and judges every threshold on the rest (remedy.holdOut, default 0.3, chosen by a stable hash of each exemplar's path). The held-out part must be able to show each threshold: an upper bound of m needs at least z²(1 − m)/m exemplars with none recognised (73 for 0.05), a retained concept at least one. Add exemplars, or raise remedy.holdOut.")
    {
        Category = DiagnosticCategory.Evidence,
    };

    /// <summary>KTU4021: a kind that unlearns with its own losses judges its candidates on every exemplar, the held-out part being too small.</summary>
    public static readonly DiagnosticDescriptor JudgedOnFitted = new("KTU4021", I, "Judged on the exemplars fitted on",
        "The held-out part of the exemplars cannot show {0} of the thresholds (remedy.holdOut {1}); candidate edits of this {2} model are judged on every exemplar, those they are fitted on included",
        "A model kind that unlearns with its own losses (a causal language model's answer tokens) names few exemplar files per concept (a person's question/answer records in one file), so the hold-out split, made per file, leaves some concepts with nothing held out. Rather than refuse (KTU4020, as for image kinds), its candidates are judged on every exemplar and the report says how many were held out (remediation.heldOutExemplars). Split a concept's records over more files to judge on a held-out part.")
    {
        Category = DiagnosticCategory.Evidence,
    };

    /// <summary>KTU4022: an unlearning method the model's kind cannot run.</summary>
    public static readonly DiagnosticDescriptor MethodSkipped = new("KTU4022", I, "Unlearning method skipped",
        "Method '{0}' was skipped for this {1} model: {2}",
        "A model kind that unlearns with its own losses runs the registry's methods it can (a causal language model: the gradient methods nhl-kl, ga, ga-kl, npo-kl as token losses); each other method named by the request or the policy's remedy.methods (or, where none is named, in the registry) is skipped and said so here, never silently. List the methods the kind runs in remedy.methods.");

    /// <summary>KTU5001: the CUDA execution provider could not be used.</summary>
    public static readonly DiagnosticDescriptor CudaUnavailable = new("KTU5001", I, "Running on CPU",
        "CUDA execution provider not available ({0}); probing on CPU",
        "KtuGate uses ONNX Runtime's CUDA execution provider when it loads and falls back to the CPU provider otherwise. Results are the same; only speed differs.");

    /// <summary>KTU5002: the gate engine could not be started.</summary>
    public static readonly DiagnosticDescriptor EngineNotFound = new("KTU5002", E, "Gate engine not found",
        "The KtuGate engine '{0}' does not exist",
        "The MSBuild task runs the engine in a child process. Set KtuEnginePath, or restore the KtuGate package again.");

    /// <summary>KTU5003: the engine exited without a result.</summary>
    public static readonly DiagnosticDescriptor EngineFailed = new("KTU5003", E, "Gate engine failed",
        "The KtuGate engine exited with code {0} and wrote no result ({1})",
        "Run the same check with `ktu check` to see its output.");

    /// <summary>KTU5004: the CUDA execution provider was required but could not be used.</summary>
    public static readonly DiagnosticDescriptor CudaRequired = new("KTU5004", E, "CUDA execution provider required",
        "Execution provider 'cuda' was requested but cannot be used: {0}",
        "Use KtuExecutionProvider=auto to fall back to CPU, or install the CUDA and cuDNN libraries ONNX Runtime needs.");

    /// <summary>KTU5005: an unknown gate mode.</summary>
    public static readonly DiagnosticDescriptor UnknownMode = new("KTU5005", E, "Unknown gate mode",
        "KtuGateMode '{0}' is not known; use one of: {1}",
        "Set the KtuGateMode property to Verify (probe and judge), Remediate (probe, unlearn violated concepts where the policy allows, probe again) or Off (skip the gate).");

    /// <summary>KTU5006: the signing key cannot be used.</summary>
    public static readonly DiagnosticDescriptor SigningKeyInvalid = new("KTU5006", E, "Signing key cannot be used",
        "Signing key {0}: {1}",
        "Reports are signed with an ECDSA P-256 private key in PEM form (PKCS#8 or SEC1), read from the file KtuSigningKeyFile names (--signing-key) or the environment variable KtuSigningKeyEnvironmentVariable names (--signing-key-env).");

    /// <summary>KTU5007: policies are set but no model is.</summary>
    public static readonly DiagnosticDescriptor NoModels = new("KTU5007", E, "No model to gate",
        "KtuPolicy names {0} polic{1}, but no KtuModel item names an artifact (a KtuModel glob that matches nothing?); nothing would be checked",
        "Every KtuModel item is gated against every KtuPolicy. Fix the KtuModel item's path or glob so that it names the artifact the build produces, or remove the KtuPolicy items (or set KtuGateMode=Off) if the project is not to be gated.");

    /// <summary>KTU5008: models are set but no policy is.</summary>
    public static readonly DiagnosticDescriptor NoPolicies = new("KTU5008", E, "No policy to gate against",
        "KtuModel names '{0}', but no KtuPolicy item names a policy file (an empty item, or a KtuPolicy glob that matches nothing?); a gate with no policy checks nothing",
        "Add a KtuPolicy item naming the policy files (policies/*.ktu.json), or fix its glob; set KtuGateMode=Off to build without the gate.");

    /// <summary>KTU5009: an unknown execution provider.</summary>
    public static readonly DiagnosticDescriptor UnknownExecutionProvider = new("KTU5009", E, "Unknown execution provider",
        "KtuExecutionProvider '{0}' is not known; use one of: {1}",
        "Set the KtuExecutionProvider property to auto (CUDA when it loads, else CPU), cpu or cuda.");

    /// <summary>KTU5010: a folder or file the gate writes cannot be written.</summary>
    public static readonly DiagnosticDescriptor OutputNotWritable = new("KTU5010", E, "Gate output cannot be written",
        "Cannot write {0} '{1}': {2}",
        "The gate writes its reports (KtuReportDir), the remediated artifact (KtuOutputDir) and its stamp and inputs list (the intermediate folder). Make the folder writable, free disk space, or point the property at another folder.");

    /// <summary>KTU5011: the engine could not write the report.</summary>
    public static readonly DiagnosticDescriptor ReportWriteFailed = new("KTU5011", E, "Report cannot be written",
        "The report could not be written to '{0}': {1}; no report files were left there",
        "A gate run without its report proves nothing, so the run fails whatever the verdict. Make the report folder (KtuReportDir, --report-dir) writable or free disk space, and run again.");

    /// <summary>KTU5012: a file the gate's inputs are listed from cannot be read.</summary>
    public static readonly DiagnosticDescriptor GateInputUnreadable = new("KTU5012", E, "Gate input cannot be read",
        "'{0}' cannot be read to list the gate's inputs: {1}",
        "The build lists every file a gate run reads (policies, manifests, exemplars) before it starts the engine. Make the file readable UTF-8 JSON; `ktu validate` shows what is wrong with it.");

    /// <summary>KTU5013: a file the gate would write or remove is one of the files it reads.</summary>
    public static readonly DiagnosticDescriptor OutputOverwritesInput = new("KTU5013", E, "Gate output would overwrite its input",
        "{0} '{1}' is also the gate's {2}; nothing was written or removed",
        "The gate removes and rewrites its reports (KtuReportDir), the remediated artifact (KtuOutputDir) and its stamp and inputs list; none of them may be a model, manifest, baseline, policy or exemplar. Point KtuReportDir or KtuOutputDir at a folder of their own.");

    /// <summary>KTU5014: the engine ended without a report that covers the run, or exited 0 on a result that is not a pass.</summary>
    public static readonly DiagnosticDescriptor EngineResultUnusable = new("KTU5014", E, "Gate engine gave no usable result",
        "The KtuGate engine exited with code {0}, but {1}; the gate did not pass",
        "A gate passes only on a report that the engine printed and wrote, that covers every KtuModel item and whose verdict is pass. Run the same check with `ktu check` to see its output, and check that KtuEnginePath names the KtuGate engine.");

    /// <summary>KTU5020: a memory limit that is not a size.</summary>
    public static readonly DiagnosticDescriptor MemoryLimitInvalid = new("KTU5020", E, "Invalid memory limit",
        "Memory limit '{0}' is not a positive size (bytes, or a number followed by K, M, G or T)",
        "Give KtuMaxMemory (ktu --max-memory) a size such as 8G or 512M, or leave it empty for the machine's memory.");

    /// <summary>KTU5021: ONNX Runtime failed while running the model (typically an allocation beyond what the machine has).</summary>
    public static readonly DiagnosticDescriptor ModelRunFailed = new("KTU5021", E, "Model failed while running",
        "ONNX Runtime failed running '{0}': {1}",
        "The model asked ONNX Runtime for something it could not do while probing, most often more memory than the machine has (a shape computed at run time). Check the model's shapes, or lower the batch size (--batch-size).");

    /// <summary>KTU5040: the CUDA execution provider was required, but the ONNX Runtime in use is the CPU-only build.</summary>
    public static readonly DiagnosticDescriptor GpuRuntimeNotInstalled = new("KTU5040", E, "GPU runtime not installed",
        "Execution provider 'cuda' was requested, but the ONNX Runtime in use ({0}) is the CPU-only build (providers: {1}); nothing was probed",
        "KtuGate ships the CPU build of ONNX Runtime. For CUDA, reference the KtuGate.Cuda package next to KtuGate (it brings the GPU runtime and sets KtuOnnxRuntimeDirectory), or point the environment variable KTU_ONNXRUNTIME_DIR at the native folder of Microsoft.ML.OnnxRuntime.Gpu.Linux for ktu; or use KtuExecutionProvider=auto or cpu.");

    /// <summary>KTU5041: the ONNX Runtime folder named by KtuOnnxRuntimeDirectory (KTU_ONNXRUNTIME_DIR) does not hold the library.</summary>
    public static readonly DiagnosticDescriptor OnnxRuntimeDirectoryInvalid = new("KTU5041", E, "ONNX Runtime folder unusable",
        "The ONNX Runtime folder '{0}' (KTU_ONNXRUNTIME_DIR) cannot be used: {1}; nothing was probed",
        "KtuOnnxRuntimeDirectory (the environment variable KTU_ONNXRUNTIME_DIR for ktu) must name a folder holding the native ONNX Runtime library of the same version as the engine's, such as the runtimes/linux-x64/native folder of Microsoft.ML.OnnxRuntime.Gpu.Linux. Restore the KtuGate.Cuda package again, or unset it to use the CPU runtime KtuGate ships.");

    /// <summary>KTU5042: the JSON Schemas that ship beside ktu are missing, so `ktu init` could not name one that resolves.</summary>
    public static readonly DiagnosticDescriptor SchemaNotShipped = new("KTU5042", E, "Schema not installed",
        "The schema '{0}' that ships beside ktu is missing; nothing was drafted",
        "ktu init copies the policy and manifest JSON Schemas from its own folder (schemas/) next to the files it drafts, so that their $schema resolves. Reinstall KtuGate.Tool (or the KtuGate package, whose engine carries them).");

    /// <summary>KTU5050: the manifest copy <c>ktu unlearn</c> writes beside the remediated artifact would land on another input of the run.</summary>
    public static readonly DiagnosticDescriptor ManifestCopyOverwritesInput = new("KTU5050", E, "Manifest copy would overwrite an input",
        "The manifest written beside the remediated '{1}' would replace '{0}', which this run reads; refused",
        "ktu unlearn writes MODEL.ktu.json beside the edited MODEL.onnx so that the output can be checked on its own, and never over a policy, manifest, model or baseline it reads. Choose another --output-dir.");

    /// <summary>KTU5070: the model's weights are held once by ONNX Runtime, without its pre-packed copy, to stay within the memory limit.</summary>
    public static readonly DiagnosticDescriptor WeightsHeldOnce = new("KTU5070", I, "Weights held once",
        "The model's {0} bytes of weights, held twice (ONNX Runtime's pre-packed copy beside them), would exceed the memory limit of {1} bytes; it runs without pre-packing",
        "ONNX Runtime keeps a pre-packed copy of constant MatMul/Gemm weights on the CPU, which is faster but doubles their memory. Where twice the weights would exceed the memory limit (--max-memory / KtuMaxMemory, default the machine's memory), the gate turns pre-packing off: results are the same, matrix products slower.");

    /// <summary>KTU6001: a file no longer has the digest the report recorded.</summary>
    public static readonly DiagnosticDescriptor DigestMismatch = new("KTU6001", E, "File changed since the report",
        "{0} '{1}' no longer matches the report: recorded sha256 {2}, now {3}",
        "The file was changed (or swapped) after the gate ran. Run the gate again on the file you mean to ship.");

    /// <summary>KTU6002: a file the report names is missing.</summary>
    public static readonly DiagnosticDescriptor RecordedFileMissing = new("KTU6002", E, "File named by the report is missing",
        "{0} '{1}' named by the report cannot be read: {2}",
        "Run ktu verify from the folder the report's paths are relative to (the model-release project), or pass --base-dir.");

    /// <summary>KTU6003: the report is not the one the statement was made for.</summary>
    public static readonly DiagnosticDescriptor ReportModified = new("KTU6003", E, "Report modified",
        "'{0}' does not match its in-toto statement: recorded sha256 {1}, now {2}",
        "The report was edited after the gate wrote it. Its statement (ktu-report.intoto.json) records the report's digest.");

    /// <summary>KTU6004: the signature does not verify.</summary>
    public static readonly DiagnosticDescriptor SignatureInvalid = new("KTU6004", E, "Signature does not verify",
        "{0}",
        "The DSSE envelope (ktu-report.intoto.dsse.json) must carry an ECDSA P-256 signature over the statement that verifies with the public key given to ktu verify.");

    /// <summary>KTU6005: a signature is present but no key was given to check it.</summary>
    public static readonly DiagnosticDescriptor SignatureNotChecked = new("KTU6005", W, "Signature not checked",
        "The report is signed (key id {0}), but no public key was given to check it",
        "Pass --public-key with the PEM public key you trust to check the signature.");

    /// <summary>KTU6006: the report or its statement cannot be read.</summary>
    public static readonly DiagnosticDescriptor ReportUnreadable = new("KTU6006", E, "Report cannot be read",
        "'{0}' cannot be read as a KtuGate report: {1}",
        "ktu verify takes the ktu-report.json a gate run wrote; its statement and envelope sit beside it.");

    /// <summary>KTU6007: the report is intact, but its verdict is not a pass.</summary>
    public static readonly DiagnosticDescriptor VerdictNotPass = new("KTU6007", E, "Verdict is not pass",
        "The report is intact, but its verdict is '{0}': the gate did not pass the artifact it names",
        "ktu verify checks that a report is intact and that it passed. A failing report verifies as a failing report; pass --integrity-only to check only that nothing changed since it was written.");

    /// <summary>KTU6008: the report carries no signature.</summary>
    public static readonly DiagnosticDescriptor ReportUnsigned = new("KTU6008", W, "Report not signed",
        "The report is not signed (no {0}): its statement only shows that the report and the files match each other, not who wrote them; anyone able to rewrite the report can rewrite its statement too",
        "Without a signature the statement only shows that the report and the files match each other, not who wrote them: a rewritten report with a rewritten statement matches too. Sign reports (KtuSigningKeyFile, --signing-key) and verify with --public-key; with a key, an unsigned report is an error (KTU6004).");

    /// <summary>KTU9001: an unexpected internal error.</summary>
    public static readonly DiagnosticDescriptor InternalError = new("KTU9001", E, "Internal error",
        "Internal error: {0}",
        "This is a bug in KtuGate. Please report it with the report file and the command that ran.");

    /// <summary>All descriptors, by code.</summary>
    public static IReadOnlyDictionary<string, DiagnosticDescriptor> All { get; } =
        typeof(DiagnosticCodes).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .ToDictionary(d => d.Code, StringComparer.OrdinalIgnoreCase);
}
